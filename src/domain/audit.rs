//! What the audit log records.

use std::fmt;

/// Each audited action. The stored form is the snake_case name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditAction {
    SignIn,
    SignInFailed,
    SignOut,
    /// Five failed sign-ins (per client or per email) and the next is refused.
    SignInThrottled,
    /// A state-changing request without this session's CSRF token, or from
    /// another site.
    CsrfRefused,
    MemberCreated,
    MemberRoleChanged,
    MemberRemoved,
    TokenCreated,
    TokenCloned,
    TokenUpdated,
    TokenReset,
    /// The old secret of a reset stopped working before its grace period
    /// ran out.
    TokenGraceEnded,
    TokenSuspended,
    TokenResumed,
    TokenDeleted,
    /// A secret of the token was reported leaked (`POST
    /// /api/v2/credentials/revoke`), so the token was deleted.
    TokenRevokedLeaked,
    /// An Owner changed the organization's token policy.
    TokenPolicyChanged,
}

impl AuditAction {
    pub const ALL: [AuditAction; 18] = [
        AuditAction::SignIn,
        AuditAction::SignInFailed,
        AuditAction::SignOut,
        AuditAction::SignInThrottled,
        AuditAction::CsrfRefused,
        AuditAction::MemberCreated,
        AuditAction::MemberRoleChanged,
        AuditAction::MemberRemoved,
        AuditAction::TokenCreated,
        AuditAction::TokenCloned,
        AuditAction::TokenUpdated,
        AuditAction::TokenReset,
        AuditAction::TokenGraceEnded,
        AuditAction::TokenSuspended,
        AuditAction::TokenResumed,
        AuditAction::TokenDeleted,
        AuditAction::TokenRevokedLeaked,
        AuditAction::TokenPolicyChanged,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::SignIn => "sign_in",
            AuditAction::SignInFailed => "sign_in_failed",
            AuditAction::SignOut => "sign_out",
            AuditAction::SignInThrottled => "sign_in_throttled",
            AuditAction::CsrfRefused => "csrf_refused",
            AuditAction::MemberCreated => "member_created",
            AuditAction::MemberRoleChanged => "member_role_changed",
            AuditAction::MemberRemoved => "member_removed",
            AuditAction::TokenCreated => "token_created",
            AuditAction::TokenCloned => "token_cloned",
            AuditAction::TokenUpdated => "token_updated",
            AuditAction::TokenReset => "token_reset",
            AuditAction::TokenGraceEnded => "token_grace_ended",
            AuditAction::TokenSuspended => "token_suspended",
            AuditAction::TokenResumed => "token_resumed",
            AuditAction::TokenDeleted => "token_deleted",
            AuditAction::TokenRevokedLeaked => "token_revoked_leaked",
            AuditAction::TokenPolicyChanged => "token_policy_changed",
        }
    }

    /// How the audit log page words it.
    pub fn label(self) -> &'static str {
        match self {
            AuditAction::SignIn => "Signed in",
            AuditAction::SignInFailed => "Failed sign-in",
            AuditAction::SignOut => "Signed out",
            AuditAction::SignInThrottled => "Sign-in throttled",
            AuditAction::CsrfRefused => "Request refused (CSRF)",
            AuditAction::MemberCreated => "Member added",
            AuditAction::MemberRoleChanged => "Role changed",
            AuditAction::MemberRemoved => "Member removed",
            AuditAction::TokenCreated => "Token created",
            AuditAction::TokenCloned => "Token cloned",
            AuditAction::TokenUpdated => "Token edited",
            AuditAction::TokenReset => "Token reset",
            AuditAction::TokenGraceEnded => "Token grace period ended",
            AuditAction::TokenSuspended => "Token suspended",
            AuditAction::TokenResumed => "Token resumed",
            AuditAction::TokenDeleted => "Token deleted",
            AuditAction::TokenRevokedLeaked => "Token revoked (reported leaked)",
            AuditAction::TokenPolicyChanged => "Token policy changed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == s)
    }
}

impl fmt::Display for AuditAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}
