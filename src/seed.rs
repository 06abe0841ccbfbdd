//! Members that must exist before anyone can sign in: the bootstrap Owner,
//! and the demo organization for `serve --demo`.

use crate::config::BootstrapOwner;
use crate::domain::email::normalize_email;
use crate::domain::password::{hash_password, validate_new_password};
use crate::domain::{random, MemberRole};
use crate::store::Store;

/// A member created by this start. `password` is set when it was generated
/// here and must be shown once; an operator-supplied one is never echoed.
#[derive(Debug)]
pub struct SeededMember {
    pub role: MemberRole,
    pub email: String,
    pub password: Option<String>,
}

/// Demo members, one per role.
pub const DEMO_MEMBERS: [(MemberRole, &str); 5] = [
    (MemberRole::Owner, "owner@example.com"),
    (MemberRole::Admin, "admin@example.com"),
    (MemberRole::Writer, "writer@example.com"),
    (MemberRole::Reader, "reader@example.com"),
    (MemberRole::NoAccess, "no-access@example.com"),
];

/// When the database has no member yet: with `demo`, creates one member per
/// role; otherwise creates the first Owner from `bootstrap`, or
/// `owner@localhost` with a generated password. Returns who was created.
pub async fn first_members(
    store: &Store,
    bootstrap: Option<&BootstrapOwner>,
    demo: bool,
) -> anyhow::Result<Vec<SeededMember>> {
    let mut out = Vec::new();
    if store.count_members().await? > 0 {
        return Ok(out);
    }
    let owner = match bootstrap {
        Some(b) => {
            let email = normalize_email(&b.email)
                .map_err(|e| anyhow::anyhow!("LATCHKEY_BOOTSTRAP_EMAIL: {e}"))?;
            validate_new_password(&b.password)
                .map_err(|e| anyhow::anyhow!("LATCHKEY_BOOTSTRAP_PASSWORD: {e}"))?;
            (email, b.password.clone(), false)
        }
        None if demo => (DEMO_MEMBERS[0].1.to_string(), random::base62(20), true),
        None => ("owner@localhost".to_string(), random::base62(20), true),
    };
    let (email, password, generated) = owner;
    store
        .create_member(&email, MemberRole::Owner, &hash_password(&password)?, None)
        .await?;
    out.push(SeededMember {
        role: MemberRole::Owner,
        email,
        password: generated.then_some(password),
    });
    if demo {
        for (role, email) in DEMO_MEMBERS.iter().skip(1) {
            let password = random::base62(20);
            store
                .create_member(email, *role, &hash_password(&password)?, None)
                .await?;
            out.push(SeededMember {
                role: *role,
                email: email.to_string(),
                password: Some(password),
            });
        }
    }
    Ok(out)
}
