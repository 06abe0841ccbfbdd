//! Sorting the token list by Name, Created, Last used and Expires, and the
//! hygiene views "Not used in 30/90 days" and "Expiring within 7 days", in
//! the API and on the page (state in the URL, aria-sort on the headers).

use std::time::Duration;

use latchkey::domain::token::{TokenKind, TokenRole};
use latchkey::tokens::CreateRequest;
use reqwest::StatusCode;

use crate::api_helpers::{ApiApp, create_request, sid, spawn_api};
use crate::helpers::{PASSWORD, TestResult, browser};
use crate::html;

const DAY: Duration = Duration::from_secs(24 * 60 * 60);

/// The names of a token list reply, in order.
fn names(list: &serde_json::Value) -> Vec<String> {
    list["items"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|t| t["name"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Four tokens made a day apart ("b old" first), "c" used recently, "d"
/// expiring in five days, "a" in twenty; then 40 days pass, and "c" and
/// the caller's own token are used.
async fn seed(app: &ApiApp, m: &crate::api_helpers::Members) -> anyhow::Result<String> {
    let (admin, _) = sid(&app
        .issue(&m.admin, "z admin", TokenKind::Service, TokenRole::Admin)
        .await?);
    let mut used = None;
    for (name, expires_in_days) in [
        ("b old", None),
        ("a", Some(60)),
        ("d", Some(45)),
        ("c", None),
    ] {
        app.advance(DAY);
        let request = CreateRequest {
            expires_at: expires_in_days.map(|d| app.now_ms() + d * 24 * 60 * 60 * 1000),
            ..create_request(name, TokenKind::Service, TokenRole::Reader)
        };
        let issued = app.issue_with(&m.admin, request).await?;
        if name == "c" {
            used = Some(issued.secret);
        }
    }
    app.advance(40 * DAY);
    app.identity(&used.unwrap_or_default()).await?;
    app.identity(&admin).await?;
    app.state.usage.flush(app.store()).await;
    Ok(admin)
}

#[tokio::test]
async fn the_api_sorts_by_each_column_both_ways() -> TestResult {
    let (app, m) = spawn_api().await?;
    let admin = seed(&app, &m).await?;
    let list = |q: &'static str| {
        let app = &app;
        let admin = admin.clone();
        async move {
            app.get(&format!("tokens?{q}"), &admin)
                .await?
                .expect(StatusCode::OK)
        }
    };
    assert_eq!(names(&list("").await?), ["a", "b old", "c", "d", "z admin"]);
    assert_eq!(
        names(&list("sort=-name").await?),
        ["z admin", "d", "c", "b old", "a"]
    );
    assert_eq!(
        names(&list("sort=created").await?),
        ["z admin", "b old", "a", "d", "c"]
    );
    assert_eq!(
        names(&list("sort=-created").await?),
        ["c", "d", "a", "b old", "z admin"]
    );
    // Never used first (oldest), then by last use; used together: by name.
    assert_eq!(
        names(&list("sort=lastUsed").await?),
        ["a", "b old", "d", "c", "z admin"]
    );
    // Soonest expiry first, never expiring last.
    assert_eq!(
        names(&list("sort=expires").await?),
        ["d", "a", "b old", "c", "z admin"]
    );
    // Pages of a sorted view, and the links keep the sort.
    let page = list("sort=-created&limit=2&offset=2").await?;
    assert_eq!(names(&page), ["a", "b old"]);
    assert_eq!(page["totalCount"], 5);
    assert!(
        page["_links"]["next"]["href"]
            .as_str()
            .unwrap_or_default()
            .contains("sort=-created")
    );

    // Stale: not used in 30 days (never used, and made over 30 days ago).
    assert_eq!(names(&list("unusedDays=30").await?), ["a", "b old", "d"]);
    app.advance(DAY);
    // d expires 45 days after it was made (day 48): within the week on day 45.
    assert_eq!(names(&list("expiringDays=7").await?), ["d"]);
    assert_eq!(names(&list("expiringDays=7&sort=-name").await?), ["d"]);
    for bad in [
        "sort=size",
        "sort=--name",
        "unusedDays=31",
        "expiringDays=30",
        "unusedDays=x",
    ] {
        app.get(&format!("tokens?{bad}"), &admin)
            .await?
            .expect_error(StatusCode::BAD_REQUEST, "invalid_request")?;
    }
    Ok(())
}

#[tokio::test]
async fn the_page_sorts_from_its_headers_and_filters_stale_tokens() -> TestResult {
    let (app, m) = spawn_api().await?;
    seed(&app, &m).await?;
    let client = browser();
    let csrf_page = client
        .get(format!("http://{}/login", app.addr))
        .send()
        .await?
        .text()
        .await?;
    let csrf = html::input_value(&csrf_page, "csrf_token").unwrap_or_default();
    let res = client
        .post(format!("http://{}/login", app.addr))
        .form(&[
            ("email", m.admin.email.as_str()),
            ("password", PASSWORD),
            ("csrf_token", &csrf),
        ])
        .send()
        .await?;
    assert!(res.status().is_redirection(), "{}", res.status());
    let get = |path: String| {
        let client = client.clone();
        let url = format!("http://{}{path}", app.addr);
        async move { client.get(url).send().await?.text().await }
    };
    let row_names = |body: &str| -> Vec<String> {
        html::elements(body, "tbody")
            .first()
            .map(|t| {
                t.find("th")
                    .iter()
                    .map(|th| th.text().trim().to_string())
                    .collect()
            })
            .unwrap_or_default()
    };

    let body = get("/settings/authorization?all=1".into()).await?;
    let name = html::one_with(&body, "th", "aria-sort", "ascending");
    assert_eq!(name.text().trim(), "Name");
    // The other sortable headers link to their natural first direction.
    assert!(body.contains("sort=-created"), "Created sorts newest first");
    assert!(body.contains("sort=expires"), "Expires sorts soonest first");
    assert!(body.contains("sort=-name"), "Name the other way");

    let body = get("/settings/authorization?all=1&sort=-created".into()).await?;
    let created = html::one_with(&body, "th", "aria-sort", "descending");
    assert_eq!(created.text().trim(), "Created");
    assert_eq!(row_names(&body), ["c", "d", "a", "b old", "z admin"]);
    // The filter form keeps the sort.
    let sort = html::one_with(&body, "select", "name", "sort");
    assert!(
        sort.find("option")
            .iter()
            .any(|o| o.attr("selected").is_some() && o.attr("value") == Some("-created"))
    );

    let body = get("/settings/authorization?all=1&unused=30".into()).await?;
    assert_eq!(row_names(&body), ["a", "b old", "d"]);
    let body = get("/settings/authorization?all=1&unused=90".into()).await?;
    assert!(row_names(&body).is_empty());
    assert!(html::text_of(&body).contains("No tokens match"));
    app.advance(DAY);
    let body = get("/settings/authorization?all=1&expiring=7".into()).await?;
    assert_eq!(row_names(&body), ["d"]);
    // Nonsense is ignored, not refused.
    let res = client
        .get(format!(
            "http://{}/settings/authorization?sort=%00&unused=-1&expiring=abc",
            app.addr
        ))
        .send()
        .await?;
    assert_eq!(res.status(), StatusCode::OK);
    Ok(())
}
