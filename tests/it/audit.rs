//! The audit log page, who may see it, and escaping of text from users.

use reqwest::StatusCode;

use crate::helpers::{OWNER_EMAIL, READER_EMAIL, TestResult, browser, location, spawn_app};
use crate::html;

/// The audit table's rows as cell texts, newest first.
pub fn audit_rows(body: &str) -> Vec<Vec<String>> {
    let Some(table) = html::elements(body, "table").into_iter().next() else {
        return Vec::new();
    };
    table
        .find("tbody")
        .first()
        .map(|tbody| {
            tbody
                .find("tr")
                .iter()
                .map(|tr| tr.find("td").iter().map(|td| td.text()).collect())
                .collect()
        })
        .unwrap_or_default()
}

/// Whether `<script>` appears escaped, as a named (`&lt;`) or numeric
/// (`&#60;`, askama's choice) character reference.
fn escaped_script(body: &str) -> bool {
    ["&lt;script&gt;", "&#60;script&#62;", "&#x3c;script&#x3e;"]
        .iter()
        .any(|escaped| body.to_ascii_lowercase().contains(escaped))
}

#[tokio::test]
async fn owner_sees_failed_and_successful_sign_ins() -> TestResult {
    let app = spawn_app().await?;
    let client = browser();
    let res = app
        .attempt_sign_in(&client, OWNER_EMAIL, "not the password")
        .await?;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    app.sign_in(&client, OWNER_EMAIL).await?;

    let res = app.get(&client, "/settings/audit").await?;
    assert_eq!(res.status(), StatusCode::OK);
    let body = res.text().await?;
    assert_eq!(html::h1_texts(&body), ["Audit log"]);
    let rows = audit_rows(&body);
    let actions: Vec<&str> = rows.iter().map(|r| r[1].as_str()).collect();
    // Newest first: the sign-in, the failure, then the members' creation.
    assert_eq!(
        &actions[..2],
        ["Signed in", "Failed sign-in"],
        "rows: {rows:?}"
    );
    assert_eq!(rows[0][2], OWNER_EMAIL, "actor of the sign-in");
    assert_eq!(rows[1][2], OWNER_EMAIL, "email of the failed attempt");
    assert_eq!(rows[0][5], "127.0.0.1", "client IP");
    // The password typed in the failed attempt is nowhere.
    assert!(!body.contains("not the password"));
    Ok(())
}

#[tokio::test]
async fn sign_out_is_audited() -> TestResult {
    let app = spawn_app().await?;
    let client = browser();
    let csrf = app.sign_in(&client, READER_EMAIL).await?;
    let res = client
        .post(app.url("/logout"))
        .form(&[("csrf_token", csrf.as_str())])
        .send()
        .await?;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);

    let owner = browser();
    app.sign_in(&owner, OWNER_EMAIL).await?;
    let body = app.get(&owner, "/settings/audit").await?.text().await?;
    let rows = audit_rows(&body);
    assert!(
        rows.iter()
            .any(|r| r[1] == "Signed out" && r[2] == READER_EMAIL),
        "rows: {rows:?}"
    );
    Ok(())
}

#[tokio::test]
async fn reader_cannot_see_the_audit_log() -> TestResult {
    let app = spawn_app().await?;
    // Something to leak: a failed sign-in for the owner.
    let res = app
        .attempt_sign_in(&browser(), OWNER_EMAIL, "not the password")
        .await?;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);

    let client = browser();
    app.sign_in(&client, READER_EMAIL).await?;
    let res = app.get(&client, "/settings/audit").await?;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let body = res.text().await?;
    assert!(audit_rows(&body).is_empty(), "no events shown");
    assert!(!body.contains("Failed sign-in"));
    assert!(!body.contains(OWNER_EMAIL), "no other member's email");
    assert!(html::text_of(&body).contains("Only Admins and Owners"));
    // The reader is still signed in and can use their own pages.
    assert!(app.is_signed_in(&client).await?);
    Ok(())
}

#[tokio::test]
async fn audit_log_without_session_redirects_to_sign_in() -> TestResult {
    let app = spawn_app().await?;
    let res = app.get(&browser(), "/settings/audit?page=2").await?;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        location(&res).as_deref(),
        Some("/login?next=%2Fsettings%2Faudit%3Fpage%3D2")
    );
    Ok(())
}

#[tokio::test]
async fn text_from_users_is_escaped() -> TestResult {
    let app = spawn_app().await?;
    let script_email = "<script>alert(1)</script>@x.io";
    let attribute_email = "\"><img src=x onerror=alert(1)>@x.io";
    let client = browser();
    for email in [script_email, attribute_email] {
        let res = app
            .attempt_sign_in(&client, email, "not the password")
            .await?;
        assert!(res.status().is_client_error(), "{}", res.status());
        let body = res.text().await?;
        assert!(!body.contains("<script>alert(1)"), "{body}");
        assert!(!body.contains("<img src=x"), "{body}");
        assert!(!body.contains("\"><img"), "{body}");
        // The typed value survives, escaped, in the field.
        assert_eq!(
            html::one_with(&body, "input", "name", "email").attr("value"),
            Some(email)
        );
    }
    let body = app
        .attempt_sign_in(&browser(), script_email, "x")
        .await?
        .text()
        .await?;
    assert!(escaped_script(&body), "{body}");

    // The audit log shows the attempted addresses, escaped.
    let owner = browser();
    app.sign_in(&owner, OWNER_EMAIL).await?;
    let body = app.get(&owner, "/settings/audit").await?.text().await?;
    assert!(escaped_script(&body), "{body}");
    assert!(!body.contains("<script>alert(1)"));
    assert!(!body.contains("<img src=x"));
    let rows = audit_rows(&body);
    assert!(
        rows.iter().any(|r| r[2] == script_email),
        "the failed attempt is logged with its email: {rows:?}"
    );
    Ok(())
}

/// What the Details column says for each row.
fn details(rows: &[Vec<String>]) -> Vec<String> {
    rows.iter().map(|r| r[4].clone()).collect()
}

#[tokio::test]
async fn filters_narrow_by_member_and_action_and_page_in_the_url() -> TestResult {
    let app = spawn_app().await?;
    let owner = browser();
    app.sign_in(&owner, OWNER_EMAIL).await?;
    let reader = browser();
    app.sign_in(&reader, READER_EMAIL).await?;
    let reader_id = app
        .store
        .find_member_by_email(READER_EMAIL)
        .await?
        .map(|m| m.id)
        .unwrap_or_default();
    // Failed sign-ins for an unknown address have no actor: they do not
    // show among the reader's events.
    for _ in 0..4 {
        app.attempt_sign_in(&browser(), "nobody@example.com", "wrong")
            .await?;
    }

    let body = app
        .get(&owner, &format!("/settings/audit?member={reader_id}"))
        .await?
        .text()
        .await?;
    let rows = audit_rows(&body);
    assert!(!rows.is_empty());
    assert!(rows.iter().all(|r| r[2] == READER_EMAIL), "{rows:?}");
    // The filter controls are labelled and keep the view.
    let member = html::one_with(&body, "select", "id", "audit-member");
    assert!(
        member
            .find("option")
            .iter()
            .any(|o| o.attr("selected").is_some() && o.text() == READER_EMAIL)
    );
    assert!(body.contains(r#"<label for="audit-token">Token ID</label>"#));
    assert!(body.contains(r#"<label for="audit-action">Action</label>"#));

    let body = app
        .get(&owner, "/settings/audit?action=sign_in_failed")
        .await?
        .text()
        .await?;
    let rows = audit_rows(&body);
    assert_eq!(rows.len(), 4, "{rows:?}");
    assert!(rows.iter().all(|r| r[1] == "Failed sign-in"));
    // Unknown values are ignored rather than refused.
    let res = app
        .get(&owner, "/settings/audit?action=nope&member=<x>&page=-3")
        .await?;
    assert_eq!(res.status(), StatusCode::OK);
    Ok(())
}

#[tokio::test]
async fn refused_csrf_and_throttled_sign_ins_are_audited_sparingly() -> TestResult {
    let app = spawn_app().await?;
    let reader = browser();
    let csrf = app.sign_in(&reader, READER_EMAIL).await?;
    // Every client here is 127.0.0.1: the owner signs in before the attack.
    let owner = browser();
    app.sign_in(&owner, OWNER_EMAIL).await?;
    // A cross-site post, then nine without the CSRF token: all refused,
    // three audited.
    let res = reader
        .post(app.url("/logout"))
        .header("Origin", "https://evil.example")
        .header("Sec-Fetch-Site", "cross-site")
        .form(&[("csrf_token", csrf.as_str())])
        .send()
        .await?;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    for _ in 0..9 {
        let res = reader
            .post(app.url("/logout"))
            .form(&[("csrf_token", "stale")])
            .send()
            .await?;
        assert_eq!(res.status(), StatusCode::FORBIDDEN);
    }
    // Failures past the limit are refused with 429 and audited.
    let attacker = browser();
    for _ in 0..12 {
        app.attempt_sign_in(&attacker, "target@example.com", "guess")
            .await?;
    }

    let body = app
        .get(&owner, "/settings/audit?action=csrf_refused")
        .await?
        .text()
        .await?;
    let rows = audit_rows(&body);
    assert_eq!(rows.len(), 3, "at most three a minute per client: {rows:?}");
    assert_eq!(rows[0][2], READER_EMAIL, "the signed-in member is named");
    let details = details(&rows);
    assert!(
        details[0].contains("POST /logout: missing or stale CSRF token"),
        "{rows:?}"
    );
    assert!(
        details[2].contains("POST /logout: cross-site request"),
        "{rows:?}"
    );
    assert_eq!(rows[0][5], "127.0.0.1");

    let body = app
        .get(&owner, "/settings/audit?action=sign_in_throttled")
        .await?
        .text()
        .await?;
    let rows = audit_rows(&body);
    assert_eq!(rows.len(), 3, "{rows:?}");
    assert!(
        rows.iter().all(|r| r[2] == "target@example.com"),
        "{rows:?}"
    );
    // Never a password or a session id.
    assert!(!body.contains("guess"));
    Ok(())
}
