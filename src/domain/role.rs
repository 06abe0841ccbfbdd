//! Member roles and their order: No access < Reader < Writer < Admin < Owner.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A member's role in the organization. The derived `Ord` follows declaration
/// order, which is the privilege order the product relies on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MemberRole {
    NoAccess,
    Reader,
    Writer,
    Admin,
    Owner,
}

impl MemberRole {
    pub const ALL: [MemberRole; 5] = [
        MemberRole::Owner,
        MemberRole::Admin,
        MemberRole::Writer,
        MemberRole::Reader,
        MemberRole::NoAccess,
    ];

    /// The stored and JSON form: lowercase, `no_access` for No access.
    pub fn as_str(self) -> &'static str {
        match self {
            MemberRole::NoAccess => "no_access",
            MemberRole::Reader => "reader",
            MemberRole::Writer => "writer",
            MemberRole::Admin => "admin",
            MemberRole::Owner => "owner",
        }
    }

    /// The form people read on the pages.
    pub fn label(self) -> &'static str {
        match self {
            MemberRole::NoAccess => "No access",
            MemberRole::Reader => "Reader",
            MemberRole::Writer => "Writer",
            MemberRole::Admin => "Admin",
            MemberRole::Owner => "Owner",
        }
    }

    /// Admins and Owners manage the organization: service tokens, everyone's
    /// tokens, the audit log.
    pub fn is_admin(self) -> bool {
        self >= MemberRole::Admin
    }
}

impl fmt::Display for MemberRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role {0:?}: expected one of owner, admin, writer, reader, no_access")]
pub struct UnknownRole(pub String);

impl FromStr for MemberRole {
    type Err = UnknownRole;

    /// Accepts the stored form (`no_access`) and the label (`No access`),
    /// case-insensitively, so the CLI is forgiving.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let normalized = s.trim().to_ascii_lowercase().replace([' ', '-'], "_");
        MemberRole::ALL
            .into_iter()
            .find(|role| role.as_str() == normalized)
            .ok_or_else(|| UnknownRole(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_is_privilege_order() {
        assert!(MemberRole::NoAccess < MemberRole::Reader);
        assert!(MemberRole::Reader < MemberRole::Writer);
        assert!(MemberRole::Writer < MemberRole::Admin);
        assert!(MemberRole::Admin < MemberRole::Owner);
    }

    #[test]
    fn parses_stored_form_and_label() {
        assert_eq!("no_access".parse(), Ok(MemberRole::NoAccess));
        assert_eq!("No access".parse(), Ok(MemberRole::NoAccess));
        assert_eq!("OWNER".parse(), Ok(MemberRole::Owner));
        assert!("superuser".parse::<MemberRole>().is_err());
        for role in MemberRole::ALL {
            assert_eq!(role.as_str().parse(), Ok(role));
        }
    }
}
