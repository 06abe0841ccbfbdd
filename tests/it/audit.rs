//! The audit log page, who may see it, and escaping of text from users.

use reqwest::StatusCode;

use crate::helpers::{OWNER_EMAIL, READER_EMAIL, TestResult, browser, location, spawn_app};
use crate::html;

/// The audit table's rows as cell texts, newest first.
fn audit_rows(body: &str) -> Vec<Vec<String>> {
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
