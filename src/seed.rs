//! Members that must exist before anyone can sign in: the bootstrap Owner,
//! and the demo organization for `serve --demo`.

use crate::config::BootstrapOwner;
use crate::domain::email::normalize_email;
use crate::domain::password::{hash_password, validate_new_password};
use crate::domain::secret::NewSecret;
use crate::domain::token::{TokenKind, TokenRole};
use crate::domain::{MemberRole, random};
use crate::store::{
    AuditActor, Member, NewToken, Store, StoreError, TokenFields, TokenUse, UseSource,
};

/// A member created by this start. `password` is set when it was generated
/// here and must be shown once; an operator-supplied one is never echoed.
#[derive(Debug)]
pub struct SeededMember {
    pub role: MemberRole,
    pub email: String,
    pub password: Option<String>,
}

/// What this start created and must show once.
#[derive(Debug, Default)]
pub struct Seeded {
    pub members: Vec<SeededMember>,
    /// With `--demo`: the secret of an Admin service token to try the API with.
    pub api_secret: Option<String>,
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
) -> anyhow::Result<Seeded> {
    let mut out = Vec::new();
    if store.count_members().await? > 0 {
        return Ok(Seeded::default());
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
    let owner_member = match store
        .create_member(&email, MemberRole::Owner, &hash_password(&password)?, None)
        .await
    {
        Ok(member) => member,
        // Another instance, started at the same moment on the same empty
        // database, seeded it first.
        Err(StoreError::Conflict(_)) => return Ok(Seeded::default()),
        Err(e) => return Err(e.into()),
    };
    out.push(SeededMember {
        role: MemberRole::Owner,
        email,
        password: generated.then_some(password),
    });
    if demo {
        let mut members = vec![owner_member];
        for (role, email) in DEMO_MEMBERS.iter().skip(1) {
            let password = random::base62(20);
            members.push(
                store
                    .create_member(email, *role, &hash_password(&password)?, None)
                    .await?,
            );
            out.push(SeededMember {
                role: *role,
                email: email.to_string(),
                password: Some(password),
            });
        }
        let api_secret = demo_tokens(store, &members).await?;
        return Ok(Seeded {
            members: out,
            api_secret: Some(api_secret),
        });
    }
    Ok(Seeded {
        members: out,
        api_secret: None,
    })
}

/// A dozen tokens of mixed roles, kinds and states, owned by the demo
/// members (`members` in `DEMO_MEMBERS` order), so a newcomer sees a real page.
/// Returns the secret of one more, "Demo API token", to try the API with.
async fn demo_tokens(store: &Store, members: &[Member]) -> anyhow::Result<String> {
    use TokenKind::{Personal, Service};
    use TokenRole::{Admin, Reader, Writer};
    const DAY: i64 = 24 * 60 * 60 * 1000;
    let now = store.clock().now_ms();
    // (member index, name, description, role, kind, API version, expires in days, last used days ago)
    type Row = (
        usize,
        &'static str,
        &'static str,
        TokenRole,
        TokenKind,
        i64,
        Option<i64>,
        Option<i64>,
    );
    let plan: [Row; 12] = [
        (
            0,
            "Terraform provider",
            "Manages flags and environments as code",
            Admin,
            Service,
            20240415,
            None,
            Some(0),
        ),
        (
            0,
            "Billing export",
            "Nightly usage export to the finance warehouse",
            Reader,
            Personal,
            20240415,
            None,
            Some(1),
        ),
        (
            1,
            "CI deploy pipeline",
            "Toggles release flags during deploys",
            Writer,
            Service,
            20240415,
            None,
            Some(0),
        ),
        (
            1,
            "Staging smoke tests",
            "",
            Reader,
            Service,
            20240415,
            Some(30),
            Some(2),
        ),
        (
            1,
            "Admin laptop CLI",
            "ldcli on my work laptop",
            Admin,
            Personal,
            20240415,
            Some(90),
            Some(5),
        ),
        (
            1,
            "Incident runbook bot",
            "Kill switches from the on-call chat",
            Admin,
            Service,
            20220603,
            None,
            None,
        ),
        (
            2,
            "Release notes script",
            "",
            Writer,
            Personal,
            20240415,
            None,
            Some(12),
        ),
        (
            2,
            "Flag cleanup job",
            "Archives flags that have been off for 90 days",
            Writer,
            Personal,
            20220603,
            Some(-3),
            Some(40),
        ),
        (
            3,
            "Dashboard sync",
            "Reads flag states into the team dashboard",
            Reader,
            Personal,
            20240415,
            None,
            Some(3),
        ),
        (
            3,
            "Analytics notebook",
            "",
            Reader,
            Personal,
            20210729,
            None,
            None,
        ),
        (
            0,
            "Mobile build signing",
            "",
            Writer,
            Service,
            20240415,
            Some(7),
            None,
        ),
        (
            4,
            "Old laptop",
            "From before the role change",
            Reader,
            Personal,
            20220603,
            None,
            Some(200),
        ),
    ];
    let seeder = AuditActor {
        member_id: None,
        token_id: None,
        label: "Demo data".to_string(),
        client_ip: None,
    };
    for (who, name, description, role, kind, api_version, expires_days, used_days) in plan {
        let member = &members[who];
        let secret = NewSecret::generate(kind);
        // Straight to the store: demo data may include what a person could
        // not create (an expired token, one owned by a No-access member).
        let token = store
            .create_token(
                &NewToken {
                    fields: TokenFields {
                        name: name.to_string(),
                        description: description.to_string(),
                        role,
                        api_version,
                        expires_at: expires_days.map(|d| now + d * DAY),
                    },
                    kind,
                    member_id: member.id.clone(),
                    digest: secret.digest(),
                    last_four: secret.last_four(),
                },
                &seeder,
                None,
            )
            .await?;
        if name == "CI deploy pipeline" {
            rotating(store, &token.id, &seeder, now).await?;
        } else if let Some(days) = used_days {
            store
                .record_token_use(&[TokenUse::at(token.id, now - days * DAY - 17 * 60 * 1000)])
                .await?;
        }
    }
    let secret = NewSecret::generate(Service);
    store
        .create_token(
            &NewToken {
                fields: TokenFields {
                    name: "Demo API token".to_string(),
                    description: "Created by --demo so you can try the API".to_string(),
                    role: Admin,
                    api_version: 20240415,
                    expires_at: None,
                },
                kind: Service,
                member_id: members[0].id.clone(),
                digest: secret.digest(),
                last_four: secret.last_four(),
            },
            &seeder,
            None,
        )
        .await?;
    Ok(secret.into_exposed())
}

/// A rotation in progress, for the demo: reset with a day's grace, the old
/// secret still used by one runner (so ending the grace early would break
/// it), the new one already by another.
async fn rotating(store: &Store, id: &str, seeder: &AuditActor, now: i64) -> anyhow::Result<()> {
    let replacement = NewSecret::generate(TokenKind::Service);
    store
        .reset_token_secret(
            id,
            &replacement.digest(),
            &replacement.last_four(),
            Some(now + 24 * 60 * 60 * 1000),
            seeder,
        )
        .await?;
    // Uses of the old secret count from the reset on: by the store's clock.
    let now = store.clock().now_ms();
    let minutes_ago = |m: i64| now - m * 60 * 1000;
    let source = |ip: &str, agent: &str, at: i64| UseSource {
        client_ip: ip.to_string(),
        user_agent: agent.to_string(),
        at,
    };
    store
        .record_token_use(&[TokenUse {
            token_id: id.to_string(),
            at: now,
            old_secret_at: Some(now),
            sources: vec![
                source("203.0.113.10", "deploy-runner/3.2 (GitHub Actions)", now),
                source(
                    "198.51.100.23",
                    "deploy-runner/3.1 (self-hosted)",
                    minutes_ago(4),
                ),
                source("192.0.2.44", "curl/8.5.0", minutes_ago(50)),
            ],
        }])
        .await?;
    Ok(())
}

/// For `make bench` and the API fuzz run: `count` tokens of mixed roles and
/// kinds owned by an Owner (created when the database has none), plus one
/// Admin token of `driver_kind` whose secret is returned to drive the API with.
pub async fn bench_tokens(
    store: &Store,
    count: usize,
    driver_kind: TokenKind,
    owner_password: Option<&str>,
) -> anyhow::Result<String> {
    let owner = match store.find_member_credentials("bench@localhost").await? {
        Some((member, _)) => member,
        None => {
            let password = match owner_password {
                Some(p) => p.to_string(),
                None => random::base62(20),
            };
            store
                .create_member(
                    "bench@localhost",
                    MemberRole::Owner,
                    &hash_password(&password)?,
                    None,
                )
                .await?
        }
    };
    let seeder = AuditActor {
        member_id: None,
        token_id: None,
        label: "Benchmark data".to_string(),
        client_ip: None,
    };
    let new_token = |name: String, role: TokenRole, kind: TokenKind, secret: &NewSecret| NewToken {
        fields: TokenFields {
            name,
            description: String::new(),
            role,
            api_version: 20240415,
            expires_at: None,
        },
        kind,
        member_id: owner.id.clone(),
        digest: secret.digest(),
        last_four: secret.last_four(),
    };
    for i in 0..count {
        let role = TokenRole::ALL[i % 3];
        let kind = if i % 4 == 0 {
            TokenKind::Service
        } else {
            TokenKind::Personal
        };
        let secret = NewSecret::generate(kind);
        store
            .create_token(
                &new_token(format!("bench token {i:05}"), role, kind, &secret),
                &seeder,
                None,
            )
            .await?;
    }
    let secret = NewSecret::generate(driver_kind);
    store
        .create_token(
            &new_token(
                "bench driver".to_string(),
                TokenRole::Admin,
                driver_kind,
                &secret,
            ),
            &seeder,
            None,
        )
        .await?;
    // Fresh planner statistics, as the database's own maintenance would
    // gather soon after a bulk load (PostgreSQL otherwise plans the list
    // as if the table were empty for a while).
    store.analyze().await?;
    Ok(secret.into_exposed())
}
