//! What every page's frame needs: title, who is signed in, where they are,
//! the CSRF token for forms and htmx, and the asset URLs.

use crate::store::Member;

use super::assets::{self, AssetUrls};

/// Which entry of the settings navigation is current.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    None,
    Authorization,
    Members,
    TokenPolicy,
    AuditLog,
}

pub struct Layout {
    pub title: String,
    pub csrf_token: String,
    pub member: Option<Member>,
    pub section: Section,
    /// A one-time message after a redirect ("Signed out", "Deleted …").
    pub flash: Option<String>,
}

impl Layout {
    /// A page for someone who is not signed in (sign-in, errors).
    pub fn public(title: impl Into<String>, csrf_token: impl Into<String>) -> Self {
        Self {
            title: title.into(),
            csrf_token: csrf_token.into(),
            member: None,
            section: Section::None,
            flash: None,
        }
    }

    pub fn assets(&self) -> &'static AssetUrls {
        assets::urls()
    }

    pub fn is_authorization(&self) -> bool {
        self.section == Section::Authorization
    }

    pub fn is_members(&self) -> bool {
        self.section == Section::Members
    }

    pub fn is_token_policy(&self) -> bool {
        self.section == Section::TokenPolicy
    }

    pub fn is_audit_log(&self) -> bool {
        self.section == Section::AuditLog
    }

    /// The section's own page, for a breadcrumb back to it.
    pub fn section_link(&self) -> (&'static str, &'static str) {
        match self.section {
            Section::AuditLog => ("/settings/audit", "Audit log"),
            Section::Members => ("/settings/members", "Members"),
            Section::TokenPolicy => ("/settings/policy", "Token policy"),
            Section::Authorization | Section::None => ("/settings/authorization", "Authorization"),
        }
    }

    pub fn in_settings(&self) -> bool {
        self.section != Section::None
    }

    pub fn flash_text(&self) -> &str {
        self.flash.as_deref().unwrap_or("")
    }
}
