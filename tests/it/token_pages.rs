//! The token pages over HTTP (PRODUCT.md §4, §6): create, clone, reset and
//! delete with and without htmx, the secret shown exactly once, every bad
//! input refused with nothing stored, and the list's search, filters and
//! pagination.

use latchkey::domain::MemberRole;
use latchkey::domain::secret::is_well_formed;
use latchkey::domain::token::{TokenKind, TokenRole};
use latchkey::web::format::datetime_local;
use reqwest::{Client, Response, StatusCode};

use crate::db::TestStore;
use crate::helpers::{HOME, TestApp, TestResult, browser, header_str, location, now_ms};
use crate::html::{self, Element};
use crate::token_support::{
    TOKENS_URL, count_audit, count_secrets, count_tokens, create, email_for, post_form, post_htmx,
    secrets_of, seed_token, spawn_team,
};

const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// A form's fields as sent.
type Fields<'a> = Vec<(&'a str, &'a str)>;

/// The first element with this id, whatever its tag.
fn by_id(body: &str, id: &str) -> Option<Element> {
    [
        "input", "select", "textarea", "fieldset", "p", "div", "span", "h2", "tr", "caption",
    ]
    .iter()
    .find_map(|tag| html::elements_with(body, tag, "id", id).into_iter().next())
}

/// The ids of the rows in the tokens table, in order.
fn row_ids(body: &str) -> Vec<String> {
    let tbody = html::one_with(body, "tbody", "id", "tokens-body");
    tbody
        .find("tr")
        .iter()
        .filter_map(|tr| tr.attr("id"))
        .map(|id| id.trim_start_matches("row-").to_string())
        .collect()
}

/// The row names (their `<th>`) in the tokens table, in order.
fn row_names(body: &str) -> Vec<String> {
    let tbody = html::one_with(body, "tbody", "id", "tokens-body");
    tbody
        .find("a")
        .iter()
        .filter(|s| s.attr("class") == Some("token-title"))
        .map(Element::text)
        .collect()
}

fn count_text(body: &str) -> String {
    html::one_with(body, "p", "id", "tokens-count").text()
}

fn status_text(body: &str) -> String {
    html::one_with(body, "div", "id", "status").text()
}

/// The secret in the "Copy your new token" panel, if the page has one.
fn shown_secret(body: &str) -> Option<String> {
    html::elements_with(body, "input", "id", "new-secret")
        .first()
        .and_then(|e| e.attr("value").map(str::to_string))
}

fn assert_no_store(what: &str, res: &Response) {
    assert!(
        header_str(res.headers(), "cache-control").is_some_and(|v| v.contains("no-store")),
        "{what}: Cache-Control: no-store, got {:?}",
        res.headers().get("cache-control")
    );
}

/// Signs in as the member with `role`; returns the client and its CSRF token.
async fn signed_in(app: &TestApp, role: MemberRole) -> anyhow::Result<(Client, String)> {
    let client = browser();
    let csrf = app.sign_in(&client, email_for(role)).await?;
    Ok((client, csrf))
}

fn future_expiry() -> String {
    datetime_local(now_ms() + 30 * DAY_MS)
}

/// A valid create form, to be spoiled one field at a time.
fn create_fields<'a>(csrf: &'a str, name: &'a str) -> Fields<'a> {
    vec![
        ("csrf_token", csrf),
        ("name", name),
        ("description", ""),
        ("role", "reader"),
        ("api_version", "20240415"),
        ("expires", ""),
    ]
}

fn with<'a>(mut fields: Fields<'a>, name: &'a str, value: &'a str) -> Fields<'a> {
    fields.retain(|(n, _)| *n != name);
    fields.push((name, value));
    fields
}

#[tokio::test]
async fn created_secret_is_shown_once_after_the_redirect() -> TestResult {
    let (app, _team) = spawn_team().await?;
    let (client, csrf) = signed_in(&app, MemberRole::Owner).await?;

    let res = app.get(&client, &format!("{TOKENS_URL}/new")).await?;
    assert_eq!(res.status(), StatusCode::OK);
    let body = res.text().await?;
    assert_eq!(html::h1_texts(&body), ["Create an access token"]);
    // Each page carries the session's CSRF token masked afresh; the one on
    // this form is a different string that is accepted all the same.
    let form_csrf = crate::token_support::page_csrf(&body)?;
    assert_ne!(form_csrf, csrf);

    let expires = future_expiry();
    let res = post_form(
        &app,
        &client,
        TOKENS_URL,
        &[
            ("csrf_token", &form_csrf),
            ("name", "  Deploy bot  "),
            ("description", "Ships <main>"),
            ("role", "writer"),
            ("api_version", "20220603"),
            ("expires", &expires),
        ],
    )
    .await?;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res).as_deref(), Some(HOME));

    let res = app.get(&client, HOME).await?;
    assert_eq!(res.status(), StatusCode::OK);
    assert_no_store("the page with the secret", &res);
    let body = res.text().await?;
    let secret = shown_secret(&body).expect("the secret on the page after the redirect");
    assert!(
        secret.starts_with("lk_pat_") && is_well_formed(&secret),
        "{secret}"
    );
    assert!(html::text_of(&body).contains("Copy your new token"));
    assert!(html::text_of(&body).contains("New access token"));
    assert!(html::text_of(&body).contains("only time this token is shown"));
    assert_eq!(
        html::one_with(&body, "input", "id", "new-secret").attr("readonly"),
        Some("")
    );
    assert!(status_text(&body).contains("Created token Deploy bot"));

    // What was stored.
    let ids = row_ids(&body);
    assert_eq!(ids.len(), 1);
    let t = app.store.find_token(&ids[0]).await?.expect("stored");
    assert_eq!(t.name, "Deploy bot");
    assert_eq!(t.description, "Ships <main>");
    assert_eq!(t.role, TokenRole::Writer);
    assert_eq!(t.kind, TokenKind::Personal);
    assert_eq!(t.api_version, 20220603);
    assert_eq!(t.expires_at.map(datetime_local), Some(expires));
    assert_eq!(t.last_four, secret[39..]);
    assert!(!body.contains("Ships <main>"), "escaped");

    // Shown once: the next page no longer has it.
    let body = app.get(&client, HOME).await?.text().await?;
    assert!(!body.contains(&secret));
    assert!(shown_secret(&body).is_none());
    assert!(!html::text_of(&body).contains("Copy your new token"));
    assert!(html::text_of(&body).contains(&t.last_four));

    // A service token, from an Owner.
    let res = post_form(
        &app,
        &client,
        TOKENS_URL,
        &with(create_fields(&csrf, "svc"), "service", "1"),
    )
    .await?;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let body = app.get(&client, HOME).await?.text().await?;
    let secret = shown_secret(&body).expect("service secret");
    assert!(secret.starts_with("lk_svc_"), "{secret}");
    Ok(())
}

#[tokio::test]
async fn htmx_create_answers_with_the_secret_the_row_and_the_status() -> TestResult {
    let (app, _team) = spawn_team().await?;
    let (client, csrf) = signed_in(&app, MemberRole::Writer).await?;
    let res = post_htmx(
        &app,
        &client,
        TOKENS_URL,
        &csrf,
        &create_fields("", "From htmx")[1..],
    )
    .await?;
    assert_eq!(res.status(), StatusCode::OK);
    assert_no_store("htmx create", &res);
    let body = res.text().await?;
    let secret = shown_secret(&body).expect("the secret panel");
    assert!(is_well_formed(&secret));
    assert_eq!(
        html::elements(&body, "h2")
            .iter()
            .map(Element::text)
            .collect::<Vec<_>>(),
        ["Copy your new token"]
    );
    // The new row, inside a <template> so the parser keeps it, swapped in
    // out of band at the top of the table.
    let template = html::elements(&body, "template");
    assert_eq!(template.len(), 1, "{body}");
    let tbody = template[0].find("tbody");
    assert_eq!(tbody.len(), 1);
    assert_eq!(
        tbody[0].attr("hx-swap-oob"),
        Some("afterbegin:#tokens-body")
    );
    let row = &tbody[0].find("tr")[0];
    let token_id = row.attr("id").expect("row id").trim_start_matches("row-");
    assert!(row.text().contains("From htmx"));
    assert!(row.text().contains(&secret[39..]));
    assert!(
        !row.inner.contains(&secret),
        "the row holds the last four only"
    );
    // The status region, announced.
    let status = html::one_with(&body, "div", "id", "status");
    assert_eq!(status.attr("hx-swap-oob"), Some("innerHTML"));
    assert!(status.text().contains("Created token From htmx"));
    // Stored, and never shown again.
    assert!(app.store.find_token(token_id).await?.is_some());
    let body = app.get(&client, HOME).await?.text().await?;
    assert!(!body.contains(&secret));
    Ok(())
}

#[tokio::test]
async fn clone_and_reset_pages_show_the_new_secret_once() -> TestResult {
    let (app, team) = spawn_team().await?;
    let store = &app.store;
    let (client, csrf) = signed_in(&app, MemberRole::Writer).await?;
    let source = create(
        store,
        &team.writer,
        "ci",
        TokenKind::Personal,
        TokenRole::Writer,
    )
    .await?
    .token;

    // Clone without JavaScript: redirect, then the secret once.
    let res = post_form(
        &app,
        &client,
        &format!("{TOKENS_URL}/{}/clone", source.id),
        &[("csrf_token", &csrf)],
    )
    .await?;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let res = app.get(&client, HOME).await?;
    assert_no_store("after clone", &res);
    let body = res.text().await?;
    let secret = shown_secret(&body).expect("clone secret");
    assert!(status_text(&body).contains("Cloned token as ci (copy)"));
    assert_eq!(row_names(&body), ["ci", "ci (copy)"]);
    let body = app.get(&client, HOME).await?.text().await?;
    assert!(!body.contains(&secret));

    // Clone with htmx: the new row right below its source.
    let res = post_htmx(
        &app,
        &client,
        &format!("{TOKENS_URL}/{}/clone", source.id),
        &csrf,
        &[],
    )
    .await?;
    assert_eq!(res.status(), StatusCode::OK);
    assert_no_store("htmx clone", &res);
    let body = res.text().await?;
    assert!(shown_secret(&body).is_some_and(|s| is_well_formed(&s)));
    let tbody = html::elements(&body, "tbody");
    assert_eq!(
        tbody[0].attr("hx-swap-oob").map(str::to_string),
        Some(format!("afterend:#row-{}", source.id))
    );

    // Reset: the form, then a new secret with the old one kept for an hour.
    let reset_url = format!("{TOKENS_URL}/{}/reset", source.id);
    let res = app.get(&client, &reset_url).await?;
    assert_eq!(res.status(), StatusCode::OK);
    let body = res.text().await?;
    assert_eq!(html::h1_texts(&body), ["Reset token?"]);
    let text = html::text_of(&body);
    for part in [
        "Keep the old secret working for",
        "Immediately",
        "1 hour",
        "24 hours",
        "7 days",
    ] {
        assert!(text.contains(part), "{part}");
    }
    let old = secrets_of(store, &source.id).await?;
    let res = post_form(
        &app,
        &client,
        &reset_url,
        &[
            ("csrf_token", &csrf),
            ("grace", "1h"),
            ("confirm_name", "ci"),
        ],
    )
    .await?;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let body = app.get(&client, HOME).await?.text().await?;
    let secret = shown_secret(&body).expect("reset secret");
    assert!(status_text(&body).contains("keeps working for 1 hour"));
    let now = secrets_of(store, &source.id).await?;
    assert_eq!(now.len(), 2, "{now:?}");
    assert_eq!(now[1].0, old[0].0, "the old digest kept");
    let until = now[1].1.expect("with an end");
    assert!((until - (now_ms() + DAY_MS / 24)).abs() < 60_000, "{until}");
    let t = store.find_token(&source.id).await?.expect("token");
    assert_eq!(t.last_four, secret[39..]);
    assert!(t.version > source.version);

    // Reset with htmx, immediately.
    let res = post_htmx(
        &app,
        &client,
        &reset_url,
        &csrf,
        &[("grace", "now"), ("confirm_name", "ci")],
    )
    .await?;
    assert_eq!(res.status(), StatusCode::OK);
    assert_no_store("htmx reset", &res);
    let body = res.text().await?;
    let secret = shown_secret(&body).expect("secret");
    assert_eq!(
        secrets_of(store, &source.id).await?,
        [(latchkey::domain::secret::digest(&secret), None)]
    );
    Ok(())
}

/// What a refused form submission must look like.
enum Expect {
    /// An error tied to a field, by the id of the field.
    Field(&'static str),
    /// An error about the whole request (a rule, not a field).
    Form(&'static str),
}

async fn assert_refused_form(
    what: &str,
    res: Response,
    expect: &Expect,
    store: &TestStore,
    tokens_before: i64,
    secrets_before: i64,
) -> anyhow::Result<String> {
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{what}");
    let body = res.text().await?;
    assert!(
        html::elements_with(&body, "form", "class", "token-form").len() == 1,
        "{what}: the form again"
    );
    match expect {
        Expect::Field(id) => {
            let field = by_id(&body, id).unwrap_or_else(|| panic!("{what}: no #{id}"));
            assert_eq!(
                field.attr("aria-invalid"),
                Some("true"),
                "{what}: #{id} is marked invalid"
            );
            // The message is tied to the field (for radios, to their group).
            let described = if *id == "token-role-reader" {
                html::elements(&body, "fieldset")
                    .into_iter()
                    .find(|f| f.text().starts_with("Role"))
                    .and_then(|f| f.attr("aria-describedby").map(str::to_string))
            } else {
                field.attr("aria-describedby").map(str::to_string)
            };
            let described = described.unwrap_or_else(|| panic!("{what}: no aria-describedby"));
            let messages: Vec<String> = described
                .split_whitespace()
                .filter(|ref_id| ref_id.ends_with("-error"))
                .filter_map(|ref_id| by_id(&body, ref_id))
                .map(|e| e.text())
                .collect();
            assert!(
                messages.iter().any(|m| m.len() > "Error: ".len()),
                "{what}: #{id} is described by an error message ({described})"
            );
        }
        Expect::Form(words) => {
            let alert = html::one_with(&body, "div", "id", "token-form-error");
            assert_eq!(alert.attr("role"), Some("alert"), "{what}");
            assert!(
                alert.text().contains(words),
                "{what}: {:?} says {words:?}",
                alert.text()
            );
        }
    }
    assert_eq!(
        count_tokens(store).await?,
        tokens_before,
        "{what}: nothing stored"
    );
    assert_eq!(count_secrets(store).await?, secrets_before, "{what}");
    Ok(body)
}

#[tokio::test]
async fn bad_create_input_is_refused_with_field_errors_and_nothing_stored() -> TestResult {
    let (app, _team) = spawn_team().await?;
    let store = &app.store;
    let (owner, owner_csrf) = signed_in(&app, MemberRole::Owner).await?;
    let (reader, reader_csrf) = signed_in(&app, MemberRole::Reader).await?;
    let (writer, writer_csrf) = signed_in(&app, MemberRole::Writer).await?;
    let (no_access, no_access_csrf) = signed_in(&app, MemberRole::NoAccess).await?;

    let name_257 = "x".repeat(257);
    let description_1001 = "d".repeat(1001);
    let past = datetime_local(now_ms() - DAY_MS);
    let o = create_fields(&owner_csrf, "fine");
    let cases: Vec<(&str, &Client, Fields, Expect)> = vec![
        (
            "empty name",
            &owner,
            with(o.clone(), "name", ""),
            Expect::Field("token-name"),
        ),
        (
            "whitespace name",
            &owner,
            with(o.clone(), "name", " \t  "),
            Expect::Field("token-name"),
        ),
        (
            "257-character name",
            &owner,
            with(o.clone(), "name", &name_257),
            Expect::Field("token-name"),
        ),
        (
            "no name field at all",
            &owner,
            o.iter().copied().filter(|(n, _)| *n != "name").collect(),
            Expect::Field("token-name"),
        ),
        (
            "1001-character description",
            &owner,
            with(o.clone(), "description", &description_1001),
            Expect::Field("token-description"),
        ),
        (
            "unknown role",
            &owner,
            with(o.clone(), "role", "superuser"),
            Expect::Field("token-role-reader"),
        ),
        (
            "owner role (there is no Owner token)",
            &owner,
            with(o.clone(), "role", "owner"),
            Expect::Field("token-role-reader"),
        ),
        (
            "no role",
            &owner,
            with(o.clone(), "role", ""),
            Expect::Field("token-role-reader"),
        ),
        (
            "unknown API version",
            &owner,
            with(o.clone(), "api_version", "20200101"),
            Expect::Field("token-api-version"),
        ),
        (
            "API version that is not a number",
            &owner,
            with(o.clone(), "api_version", "latest"),
            Expect::Field("token-api-version"),
        ),
        (
            "malformed expiry",
            &owner,
            with(o.clone(), "expires", "31/01/2027"),
            Expect::Field("token-expires"),
        ),
        (
            "impossible expiry",
            &owner,
            with(o.clone(), "expires", "2027-13-45T99:99"),
            Expect::Field("token-expires"),
        ),
        (
            "past expiry",
            &owner,
            with(o.clone(), "expires", &past),
            Expect::Field("token-expires"),
        ),
        (
            "role above the Reader's own",
            &reader,
            with(create_fields(&reader_csrf, "up"), "role", "writer"),
            Expect::Form("above your role"),
        ),
        (
            "Admin role from a Writer",
            &writer,
            with(create_fields(&writer_csrf, "up"), "role", "admin"),
            Expect::Form("above your role"),
        ),
        (
            "service token from a Writer",
            &writer,
            with(create_fields(&writer_csrf, "svc"), "service", "1"),
            Expect::Form("Only Admins and Owners"),
        ),
        (
            "any token from a No access member",
            &no_access,
            create_fields(&no_access_csrf, "nope"),
            Expect::Form("No access"),
        ),
    ];
    let tokens_before = count_tokens(store).await?;
    let secrets_before = count_secrets(store).await?;
    for (what, client, fields, expect) in &cases {
        let res = post_form(&app, client, TOKENS_URL, fields).await?;
        let body =
            assert_refused_form(what, res, expect, store, tokens_before, secrets_before).await?;
        // What was typed is kept.
        let typed = fields
            .iter()
            .find(|(n, _)| *n == "name")
            .map(|(_, v)| *v)
            .unwrap_or("");
        assert_eq!(
            html::one_with(&body, "input", "id", "token-name").attr("value"),
            Some(typed),
            "{what}: the name typed is kept"
        );
    }
    // With htmx: the same refusal, as dialog content.
    let res = post_htmx(
        &app,
        &owner,
        TOKENS_URL,
        &owner_csrf,
        &with(o.clone(), "name", "   ")[1..],
    )
    .await?;
    assert_eq!(
        header_str(res.headers(), "hx-retarget"),
        Some("#dialog-content")
    );
    assert_refused_form(
        "htmx, whitespace name",
        res,
        &Expect::Field("token-name"),
        store,
        tokens_before,
        secrets_before,
    )
    .await?;
    // Several problems at once: each field says so.
    let res = post_form(
        &app,
        &owner,
        TOKENS_URL,
        &with(
            with(with(o.clone(), "name", ""), "expires", "soon"),
            "api_version",
            "1",
        ),
    )
    .await?;
    let body = assert_refused_form(
        "everything wrong",
        res,
        &Expect::Field("token-name"),
        store,
        tokens_before,
        secrets_before,
    )
    .await?;
    for id in ["token-name", "token-api-version", "token-expires"] {
        assert_eq!(
            by_id(&body, id)
                .and_then(|e| e.attr("aria-invalid").map(str::to_string))
                .as_deref(),
            Some("true"),
            "{id}"
        );
    }
    // The first invalid field gets focus (without JavaScript: autofocus).
    assert_eq!(
        html::one_with(&body, "input", "id", "token-name").attr("autofocus"),
        Some("")
    );

    // The limits themselves are accepted.
    let name_256 = "y".repeat(256);
    let description_1000 = "d".repeat(1000);
    let res = post_form(
        &app,
        &owner,
        TOKENS_URL,
        &with(
            with(o.clone(), "name", &name_256),
            "description",
            &description_1000,
        ),
    )
    .await?;
    assert_eq!(
        res.status(),
        StatusCode::SEE_OTHER,
        "256 characters are fine"
    );
    assert_eq!(count_tokens(store).await?, tokens_before + 1);
    Ok(())
}

#[tokio::test]
async fn bad_edit_input_is_refused_and_nothing_changes() -> TestResult {
    let (app, team) = spawn_team().await?;
    let store = &app.store;
    let (writer, csrf) = signed_in(&app, MemberRole::Writer).await?;
    let token = create(
        store,
        &team.writer,
        "mine",
        TokenKind::Personal,
        TokenRole::Reader,
    )
    .await?
    .token;
    let url = format!("{TOKENS_URL}/{}/edit", token.id);
    let res = app.get(&writer, &url).await?;
    assert_eq!(res.status(), StatusCode::OK);
    let body = res.text().await?;
    assert_eq!(
        html::one_with(&body, "input", "id", "token-name").attr("value"),
        Some("mine")
    );

    let name_257 = "x".repeat(257);
    let description_1001 = "d".repeat(1001);
    let base = create_fields(&csrf, "renamed");
    let cases: Vec<(&str, Fields, Expect)> = vec![
        (
            "empty name",
            with(base.clone(), "name", ""),
            Expect::Field("token-name"),
        ),
        (
            "whitespace name",
            with(base.clone(), "name", "   "),
            Expect::Field("token-name"),
        ),
        (
            "257-character name",
            with(base.clone(), "name", &name_257),
            Expect::Field("token-name"),
        ),
        (
            "1001-character description",
            with(base.clone(), "description", &description_1001),
            Expect::Field("token-description"),
        ),
        (
            "unknown role",
            with(base.clone(), "role", "superuser"),
            Expect::Field("token-role-reader"),
        ),
        (
            "unknown API version",
            with(base.clone(), "api_version", "19990101"),
            Expect::Field("token-api-version"),
        ),
        (
            "malformed expiry",
            with(base.clone(), "expires", "tomorrow"),
            Expect::Field("token-expires"),
        ),
    ];
    let tokens_before = count_tokens(store).await?;
    let secrets_before = count_secrets(store).await?;
    for (what, fields, expect) in &cases {
        let res = post_form(&app, &writer, &url, fields).await?;
        assert_refused_form(what, res, expect, store, tokens_before, secrets_before).await?;
        assert_eq!(
            store.find_token(&token.id).await?.as_ref(),
            Some(&token),
            "{what}: unchanged"
        );
    }
    // A role above the Writer's own: refused with the reason, unchanged.
    let res = post_form(&app, &writer, &url, &with(base.clone(), "role", "admin")).await?;
    let status = res.status();
    assert!(
        status == StatusCode::FORBIDDEN || status == StatusCode::UNPROCESSABLE_ENTITY,
        "role above own: {status}"
    );
    assert!(html::text_of(&res.text().await?).contains("above your role"));
    assert_eq!(store.find_token(&token.id).await?.as_ref(), Some(&token));

    // A valid edit goes through.
    let res = post_form(&app, &writer, &url, &with(base.clone(), "role", "writer")).await?;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let t = store.find_token(&token.id).await?.expect("token");
    assert_eq!((t.name.as_str(), t.role), ("renamed", TokenRole::Writer));
    Ok(())
}

#[tokio::test]
async fn malformed_and_unknown_ids_are_404_on_every_token_route() -> TestResult {
    let (app, team) = spawn_team().await?;
    let store = &app.store;
    let (client, csrf) = signed_in(&app, MemberRole::Owner).await?;
    let deleted = create(
        store,
        &team.owner,
        "gone",
        TokenKind::Personal,
        TokenRole::Reader,
    )
    .await?
    .token;
    latchkey::tokens::delete(
        store,
        crate::token_support::caller(&team.owner),
        &deleted.id,
    )
    .await?;
    let keep = create(
        store,
        &team.owner,
        "keep",
        TokenKind::Personal,
        TokenRole::Reader,
    )
    .await?
    .token;
    let long = "a".repeat(3000);
    let ids: Vec<&str> = vec![
        "nope",
        "..%2Fx",
        "..%2F..%2Fetc%2Fpasswd",
        "zzzzzzzzzzzzzzzzzzzzzzzz",
        "0123456789ABCDEF01234567",
        "0123456789abcdef0123456",
        "0123456789abcdef012345678",
        "0123456789abcdef01234567",
        "%00",
        "%E2%80%AE",
        "1%20OR%201%3D1",
        &deleted.id,
        &long,
    ];
    let tokens_before = count_tokens(store).await?;
    let mut failures = Vec::new();
    for id in &ids {
        let shown: String = id.chars().take(40).collect();
        for (method, action) in [
            ("GET", "edit"),
            ("GET", "reset"),
            ("GET", "delete"),
            ("POST", "edit"),
            ("POST", "clone"),
            ("POST", "reset"),
            ("POST", "delete"),
        ] {
            let path = format!("{TOKENS_URL}/{id}/{action}");
            for htmx in [false, true] {
                let what = format!(
                    "{method} …/{shown}/{action}{}",
                    if htmx { " (htmx)" } else { "" }
                );
                let mut req = if method == "GET" {
                    client.get(app.url(&path))
                } else {
                    client.post(app.url(&path)).form(&[
                        ("csrf_token", csrf.as_str()),
                        ("name", "x"),
                        ("role", "reader"),
                        ("grace", "now"),
                        ("confirm_name", "x"),
                    ])
                };
                if htmx {
                    req = req.header("HX-Request", "true");
                }
                let res = req.send().await?;
                let status = res.status();
                let body = res.text().await?;
                if status != StatusCode::NOT_FOUND {
                    failures.push(format!("{what}: {status}"));
                } else if !htmx && html::h1_texts(&body) != ["Page not found"] {
                    failures.push(format!("{what}: not the 404 page"));
                } else if htmx && !html::text_of(&body).contains("not found") {
                    failures.push(format!("{what}: no message in the dialog: {body}"));
                }
            }
        }
    }
    // An empty id segment is no route at all.
    for path in [
        format!("{TOKENS_URL}//edit"),
        format!("{TOKENS_URL}/ /delete"),
    ] {
        let res = app.get(&client, &path).await?;
        if res.status() != StatusCode::NOT_FOUND {
            failures.push(format!("GET {path}: {}", res.status()));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
    assert_eq!(count_tokens(store).await?, tokens_before, "nothing stored");
    assert_eq!(store.find_token(&keep.id).await?.as_ref(), Some(&keep));
    Ok(())
}

/// An id whose percent-encoding is not UTF-8 is as malformed as any other:
/// the 404 page, not a plain-text 400 from the path extractor.
#[tokio::test]
async fn non_utf8_ids_get_the_404_page() -> TestResult {
    let (app, _team) = spawn_team().await?;
    let (client, csrf) = signed_in(&app, MemberRole::Owner).await?;
    let mut failures = Vec::new();
    for (method, action) in [
        ("GET", "edit"),
        ("GET", "reset"),
        ("GET", "delete"),
        ("POST", "edit"),
        ("POST", "clone"),
        ("POST", "reset"),
        ("POST", "delete"),
    ] {
        let path = format!("{TOKENS_URL}/%FF%FE/{action}");
        let req = if method == "GET" {
            client.get(app.url(&path))
        } else {
            client
                .post(app.url(&path))
                .form(&[("csrf_token", csrf.as_str())])
        };
        let res = req.send().await?;
        let status = res.status();
        let content_type = header_str(res.headers(), "content-type")
            .unwrap_or_default()
            .to_string();
        let body = res.text().await?;
        if status != StatusCode::NOT_FOUND || html::h1_texts(&body) != ["Page not found"] {
            failures.push(format!(
                "{method} {path}: {status} {content_type} {:?}",
                body.chars().take(120).collect::<String>()
            ));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
    Ok(())
}

/// Fields that would make any token action succeed, with `csrf` if given.
fn action_fields(csrf: Option<&str>) -> Fields<'_> {
    let mut fields = vec![
        ("name", "changed"),
        ("role", "reader"),
        ("grace", "now"),
        ("confirm_name", "target"),
    ];
    if let Some(csrf) = csrf {
        fields.push(("csrf_token", csrf));
    }
    fields
}

#[tokio::test]
async fn stale_or_missing_csrf_token_changes_nothing() -> TestResult {
    let (app, team) = spawn_team().await?;
    let store = &app.store;
    let client = browser();
    let stale = app.sign_in(&client, email_for(MemberRole::Owner)).await?;
    // Signing out and in again gives the session a new CSRF token.
    let res = post_form(&app, &client, "/logout", &[("csrf_token", &stale)]).await?;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let fresh = app.sign_in(&client, email_for(MemberRole::Owner)).await?;
    assert_ne!(stale, fresh);
    let other = browser();
    let others = app.sign_in(&other, email_for(MemberRole::Admin)).await?;
    let token = create(
        store,
        &team.owner,
        "target",
        TokenKind::Personal,
        TokenRole::Reader,
    )
    .await?
    .token;
    let secrets = secrets_of(store, &token.id).await?;
    let routes = [
        TOKENS_URL.to_string(),
        format!("{TOKENS_URL}/{}/edit", token.id),
        format!("{TOKENS_URL}/{}/clone", token.id),
        format!("{TOKENS_URL}/{}/reset", token.id),
        format!("{TOKENS_URL}/{}/delete", token.id),
    ];
    let tokens_before = count_tokens(store).await?;
    // The refusals themselves are audited (sparingly); nothing else is.
    let audit_before: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM audit_events WHERE action <> 'csrf_refused'")
            .fetch_one(store.sql())
            .await?;
    for route in &routes {
        for (what, form) in [
            ("no token", action_fields(None)),
            ("empty token", action_fields(Some(""))),
            ("wrong token", action_fields(Some("0000"))),
            ("stale token", action_fields(Some(&stale))),
            ("another session's token", action_fields(Some(&others))),
        ] {
            let res = post_form(&app, &client, route, &form).await?;
            assert_eq!(res.status(), StatusCode::FORBIDDEN, "{route}: {what}");
            let body = res.text().await?;
            assert_eq!(html::h1_texts(&body), ["This form has expired"], "{route}");
            assert!(html::text_of(&body).contains("Nothing was changed"));
        }
        // htmx: the header is checked the same way.
        let res = client
            .post(app.url(route))
            .header("HX-Request", "true")
            .header("X-CSRF-Token", &stale)
            .form(&action_fields(None))
            .send()
            .await?;
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{route}: htmx, stale");
        assert!(html::text_of(&res.text().await?).contains("Nothing was changed"));
    }
    assert_eq!(count_tokens(store).await?, tokens_before);
    assert_eq!(store.find_token(&token.id).await?.as_ref(), Some(&token));
    assert_eq!(secrets_of(store, &token.id).await?, secrets);
    let audit_after: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM audit_events WHERE action <> 'csrf_refused'")
            .fetch_one(store.sql())
            .await?;
    assert_eq!(
        audit_after, audit_before,
        "nothing audited but the refusals"
    );
    assert!(
        count_audit(store, "csrf_refused").await? > 0,
        "the refusals are"
    );
    // The fresh token still works.
    let res = post_form(
        &app,
        &client,
        &format!("{TOKENS_URL}/{}/clone", token.id),
        &[("csrf_token", &fresh)],
    )
    .await?;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    Ok(())
}

#[tokio::test]
async fn reset_needs_the_token_name_typed_exactly() -> TestResult {
    let (app, team) = spawn_team().await?;
    let store = &app.store;
    let (client, csrf) = signed_in(&app, MemberRole::Reader).await?;
    let token = create(
        store,
        &team.reader,
        "Deploy Bot",
        TokenKind::Personal,
        TokenRole::Reader,
    )
    .await?
    .token;
    let url = format!("{TOKENS_URL}/{}/reset", token.id);
    let secrets = secrets_of(store, &token.id).await?;
    for (what, grace, typed) in [
        ("wrong name", "now", "something else"),
        ("wrong case", "now", "deploy bot"),
        ("part of it", "24h", "Deploy"),
        ("nothing typed", "7d", ""),
        ("unknown grace", "forever", "Deploy Bot"),
        ("no grace", "", "Deploy Bot"),
    ] {
        let res = post_form(
            &app,
            &client,
            &url,
            &[
                ("csrf_token", &csrf),
                ("grace", grace),
                ("confirm_name", typed),
            ],
        )
        .await?;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{what}");
        let body = res.text().await?;
        assert_eq!(html::h1_texts(&body), ["Reset token?"], "{what}");
        let alert = html::one_with(&body, "div", "id", "reset-error");
        assert_eq!(alert.attr("role"), Some("alert"));
        assert!(!alert.text().is_empty());
        let input = html::one_with(&body, "input", "id", "confirm-name");
        assert_eq!(input.attr("aria-invalid"), Some("true"), "{what}");
        assert_eq!(input.attr("aria-describedby"), Some("reset-error"));
        assert_eq!(input.attr("value"), Some(typed), "{what}: kept");
        assert_eq!(secrets_of(store, &token.id).await?, secrets, "{what}");
        assert_eq!(store.find_token(&token.id).await?.as_ref(), Some(&token));
    }
    // Surrounding spaces are forgiven.
    let res = post_form(
        &app,
        &client,
        &url,
        &[
            ("csrf_token", &csrf),
            ("grace", "now"),
            ("confirm_name", " Deploy Bot "),
        ],
    )
    .await?;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_ne!(secrets_of(store, &token.id).await?, secrets);
    Ok(())
}

#[tokio::test]
async fn deleting_twice_is_404_the_second_time() -> TestResult {
    let (app, team) = spawn_team().await?;
    let store = &app.store;
    let (client, csrf) = signed_in(&app, MemberRole::Admin).await?;
    for htmx in [false, true] {
        let token = create(
            store,
            &team.admin,
            "doomed",
            TokenKind::Service,
            TokenRole::Reader,
        )
        .await?
        .token;
        let url = format!("{TOKENS_URL}/{}/delete", token.id);
        let res = app.get(&client, &url).await?;
        assert_eq!(res.status(), StatusCode::OK);
        let body = res.text().await?;
        assert_eq!(html::h1_texts(&body), ["Delete token?"]);
        let text = html::text_of(&body);
        assert!(
            text.contains("doomed") && text.contains("401 Unauthorized"),
            "{text}"
        );

        let first = if htmx {
            post_htmx(&app, &client, &url, &csrf, &[]).await?
        } else {
            post_form(&app, &client, &url, &[("csrf_token", &csrf)]).await?
        };
        if htmx {
            assert_eq!(first.status(), StatusCode::OK);
            assert_eq!(
                header_str(first.headers(), "hx-retarget").map(str::to_string),
                Some(format!("#row-{}", token.id))
            );
            let body = first.text().await?;
            assert!(status_text(&body).contains("Deleted doomed"));
        } else {
            assert_eq!(first.status(), StatusCode::SEE_OTHER);
            let body = app.get(&client, HOME).await?.text().await?;
            assert!(status_text(&body).contains("Deleted doomed"));
            assert!(!row_ids(&body).contains(&token.id));
        }
        assert!(store.find_token(&token.id).await?.is_none());

        let second = if htmx {
            post_htmx(&app, &client, &url, &csrf, &[]).await?
        } else {
            post_form(&app, &client, &url, &[("csrf_token", &csrf)]).await?
        };
        assert_eq!(second.status(), StatusCode::NOT_FOUND, "htmx: {htmx}");
        let body = second.text().await?;
        if htmx {
            assert!(html::text_of(&body).contains("Token not found"));
        } else {
            assert_eq!(html::h1_texts(&body), ["Page not found"]);
        }
        // The confirmation page is gone as well.
        assert_eq!(
            app.get(&client, &url).await?.status(),
            StatusCode::NOT_FOUND
        );
    }
    Ok(())
}

#[tokio::test]
async fn list_search_and_filters_live_in_the_query() -> TestResult {
    let (app, team) = spawn_team().await?;
    let store = &app.store;
    let (admin, _) = signed_in(&app, MemberRole::Admin).await?;
    let (writer, _) = signed_in(&app, MemberRole::Writer).await?;
    for (name, kind, role) in [
        ("Deploy Bot", TokenKind::Personal, TokenRole::Writer),
        ("deploy-tool", TokenKind::Service, TokenRole::Admin),
        ("100% coverage", TokenKind::Personal, TokenRole::Reader),
        ("100 percent", TokenKind::Personal, TokenRole::Reader),
        ("snake_case", TokenKind::Personal, TokenRole::Reader),
        ("snakeXcase", TokenKind::Personal, TokenRole::Reader),
        ("back\\slash", TokenKind::Personal, TokenRole::Reader),
        ("ÉCLAIR", TokenKind::Personal, TokenRole::Reader),
    ] {
        seed_token(store, &team.admin, name, kind, role).await?;
    }
    seed_token(
        store,
        &team.writer,
        "writer's own",
        TokenKind::Personal,
        TokenRole::Writer,
    )
    .await?;
    seed_token(
        store,
        &team.other,
        "other's deploy",
        TokenKind::Personal,
        TokenRole::Admin,
    )
    .await?;

    let names = |client: &Client, query: &str| {
        let client = client.clone();
        let path = format!("{HOME}?{query}");
        let app = &app;
        async move {
            let res = app.get(&client, &path).await?;
            assert_eq!(res.status(), StatusCode::OK, "{path}");
            let body = res.text().await?;
            anyhow::Ok((row_names(&body), body))
        }
    };
    for (query, want) in [
        ("q=DEPLOY", vec!["Deploy Bot", "deploy-tool"]),
        (
            "q=deploy&all=1",
            vec!["Deploy Bot", "deploy-tool", "other's deploy"],
        ),
        ("q=%25", vec!["100% coverage"]),
        ("q=100%25", vec!["100% coverage"]),
        ("q=_", vec!["snake_case"]),
        ("q=e_c", vec!["snake_case"]),
        ("q=%5C", vec!["back\\slash"]),
        ("q=%C3%A9clair", vec!["ÉCLAIR"]),
        ("q=+++bot+++", vec!["Deploy Bot"]),
        ("q=nothing+like+it", vec![]),
        ("type=service", vec!["deploy-tool"]),
        ("role=writer", vec!["Deploy Bot"]),
        ("role=admin&type=personal&all=1", vec!["other's deploy"]),
        ("role=reader&q=100", vec!["100 percent", "100% coverage"]),
    ] {
        let (got, body) = names(&admin, query).await?;
        assert_eq!(got, want, "Admin, {query}");
        if want.is_empty() {
            assert!(count_text(&body).starts_with("No tokens match"), "{query}");
        }
    }
    // The search field and filters show the current view.
    let (_, body) = names(&admin, "q=Bot&type=service&role=admin&all=1").await?;
    assert_eq!(
        html::one_with(&body, "input", "id", "q").attr("value"),
        Some("Bot")
    );
    let all = html::one_with(&body, "input", "id", "all");
    assert_eq!(all.attr("checked"), Some(""));
    let selected: Vec<String> = html::elements(&body, "option")
        .into_iter()
        .filter(|o| o.attr("selected").is_some())
        .map(|o| o.text())
        .collect();
    // (and the untouched views: any time, the default order)
    assert_eq!(selected, ["Service", "Admin", "Any time", "Name, A to Z"]);

    // `all=1` means nothing to a Writer: their own and the service tokens.
    let (got, body) = names(&writer, "all=1").await?;
    assert_eq!(got, ["deploy-tool", "writer's own"]);
    assert!(html::elements_with(&body, "input", "id", "all").is_empty());
    let (got, _) = names(&writer, "q=deploy").await?;
    assert_eq!(got, ["deploy-tool"]);

    // Values that make no sense are ignored, never a 500.
    let long = "q".repeat(5000);
    for query in [
        "page=abc",
        "page=0",
        "page=-5",
        "page=1e3",
        "page=99999999999999999999999",
        "page=",
        "role=superuser",
        "role=owner",
        "type=robot",
        "all=yes",
        "all=1&all=0",
        "q=a&q=b",
        "q=%FF%FE",
        "q=%00",
        "q=%25%25%5F",
        &format!("q={long}"),
        "%FF=%FF",
        "type",
        "&&&==&",
    ] {
        let res = app.get(&admin, &format!("{HOME}?{query}")).await?;
        let status = res.status();
        assert!(!status.is_server_error(), "{query}: {status}");
        assert_eq!(status, StatusCode::OK, "{query}");
        let body = res.text().await?;
        assert!(body.contains("</html>"), "{query}");
        assert!(html::text_of(&body).contains("Access tokens"), "{query}");
    }
    Ok(())
}

/// Inserts `n` service tokens `bulk 0000`… in one transaction (fast).
async fn bulk_tokens(store: &TestStore, member_id: &str, n: usize) -> anyhow::Result<()> {
    bulk_more(store, member_id, 0, n).await
}

#[tokio::test]
async fn list_pages_by_fifty() -> TestResult {
    let (app, team) = spawn_team().await?;
    let store = &app.store;
    let (client, _) = signed_in(&app, MemberRole::Reader).await?;
    bulk_tokens(store, &team.admin.id, 51).await?;

    let body = app.get(&client, HOME).await?.text().await?;
    assert_eq!(row_ids(&body).len(), 50);
    assert_eq!(count_text(&body), "Showing 1–50 of 51");
    assert_eq!(
        row_names(&body).first().map(String::as_str),
        Some("bulk 0000")
    );
    let nav = html::one_with(&body, "nav", "aria-label", "Token list pages");
    assert!(nav.text().contains("Page 1 of 2"));
    let next = html::one_with(&nav.inner, "a", "rel", "next");
    assert_eq!(next.attr("href"), Some("/settings/authorization?page=2"));
    assert!(html::elements_with(&nav.inner, "a", "rel", "prev").is_empty());

    let body = app
        .get(&client, &format!("{HOME}?page=2"))
        .await?
        .text()
        .await?;
    assert_eq!(row_names(&body), ["bulk 0050"]);
    assert_eq!(count_text(&body), "Showing 51–51 of 51");
    let nav = html::one_with(&body, "nav", "aria-label", "Token list pages");
    let prev = html::one_with(&nav.inner, "a", "rel", "prev");
    assert_eq!(prev.attr("href"), Some("/settings/authorization"));

    // Filters survive paging.
    let body = app
        .get(&client, &format!("{HOME}?q=BULK&type=service&role=reader"))
        .await?
        .text()
        .await?;
    let nav = html::one_with(&body, "nav", "aria-label", "Token list pages");
    let next = html::one_with(&nav.inner, "a", "rel", "next");
    assert_eq!(
        next.attr("href"),
        Some("/settings/authorization?q=BULK&role=reader&type=service&page=2")
    );

    // Thousands get separators.
    bulk_more(store, &team.admin.id, 51, 1001).await?;
    let body = app.get(&client, HOME).await?.text().await?;
    assert_eq!(count_text(&body), "Showing 1–50 of 1,001");
    let body = app
        .get(&client, &format!("{HOME}?page=21"))
        .await?
        .text()
        .await?;
    assert_eq!(count_text(&body), "Showing 1,001–1,001 of 1,001");
    assert_eq!(row_names(&body), ["bulk 1000"]);
    Ok(())
}

/// Adds tokens `bulk {from}`…`bulk {to - 1}`.
async fn bulk_more(
    store: &TestStore,
    member_id: &str,
    from: usize,
    to: usize,
) -> anyhow::Result<()> {
    let mut tx = store.sql().begin().await?;
    let now = now_ms();
    for i in from..to {
        let id = format!("{:024x}", 0xb0_0000_0000_u64 + i as u64);
        let name = format!("bulk {i:04}");
        sqlx::query(
            "INSERT INTO tokens (id, name, name_search, description, role, kind, member_id,
                                 api_version, created_at, updated_at, expires_at, last_four)
             VALUES ($1, $2, $3, '', 'reader', 'service', $4, 20240415, $5, $5, NULL, 'abcd')",
        )
        .bind(&id)
        .bind(&name)
        .bind(name.to_lowercase())
        .bind(member_id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    // Rows written with raw SQL bypass the store's credential index, which
    // the list's total comes from.
    store.reload_credentials().await?;
    Ok(())
}

/// A hand-edited page number past the end must not claim to show rows that
/// are not there ("Showing 0–200 of 51").
#[tokio::test]
async fn page_past_the_end_does_not_claim_rows() -> TestResult {
    let (app, team) = spawn_team().await?;
    let (client, _) = signed_in(&app, MemberRole::Reader).await?;
    bulk_tokens(&app.store, &team.admin.id, 51).await?;
    let res = app.get(&client, &format!("{HOME}?page=5")).await?;
    assert_eq!(res.status(), StatusCode::OK);
    let body = res.text().await?;
    let text = count_text(&body);
    let shown = row_ids(&body).len();
    // Either the last page is shown, or the text says nothing is on this one.
    assert!(
        (shown == 1 && text == "Showing 51–51 of 51") || (shown == 0 && !text.contains("0–")),
        "page 5 of 2 shows {shown} rows and says {text:?}"
    );
    Ok(())
}

/// The secret of a page-based create passes through the session store
/// between the POST and the GET that shows it. Once shown, no copy of it may
/// remain in the database files (PRODUCT.md §3: only a SHA-256 digest of the
/// secret is stored).
#[tokio::test]
async fn shown_secret_leaves_no_copy_in_the_database_files() -> TestResult {
    let (app, _team) = spawn_team().await?;
    let (client, csrf) = signed_in(&app, MemberRole::Owner).await?;
    let res = post_form(&app, &client, TOKENS_URL, &create_fields(&csrf, "flash")).await?;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let body = app.get(&client, HOME).await?.text().await?;
    let secret = shown_secret(&body).expect("secret shown");
    // Once more, so the session has been written without it.
    let body = app.get(&client, HOME).await?.text().await?;
    assert!(!body.contains(&secret));
    let mut found = Vec::new();
    for (name, bytes) in app.store.stored_bytes().await? {
        if bytes.windows(secret.len()).any(|w| w == secret.as_bytes()) {
            found.push(name);
        }
    }
    assert!(
        found.is_empty(),
        "the shown secret is still readable in {found:?}"
    );
    Ok(())
}

/// The values an edit form shows, as a browser would submit them unchanged.
fn form_values(body: &str) -> Vec<(String, String)> {
    let mut values = vec![
        (
            "csrf_token".to_string(),
            html::input_value(body, "csrf_token").unwrap_or_default(),
        ),
        (
            "name".to_string(),
            html::input_value(body, "name").unwrap_or_default(),
        ),
        (
            "description".to_string(),
            html::one_with(body, "textarea", "name", "description").text(),
        ),
        (
            "expires".to_string(),
            html::input_value(body, "expires").unwrap_or_default(),
        ),
    ];
    if let Some(role) = html::elements_with(body, "input", "name", "role")
        .into_iter()
        .find(|r| r.attr("checked").is_some() && r.attr("disabled").is_none())
    {
        values.push(("role".to_string(), role.attr("value").unwrap_or("").into()));
    }
    let select = html::one_with(body, "select", "name", "api_version");
    if let Some(option) = select
        .find("option")
        .into_iter()
        .find(|o| o.attr("selected").is_some())
    {
        values.push((
            "api_version".to_string(),
            option.attr("value").unwrap_or("").into(),
        ));
    }
    values
}

/// Renaming a token on the edit page must not touch an expiry the member
/// left alone, even one set to the millisecond through the API, and even
/// one that has passed ("an unchanged expiry is fine even if it has passed").
#[tokio::test]
async fn edit_page_keeps_an_expiry_it_did_not_change() -> TestResult {
    let (app, team) = spawn_team().await?;
    let store = &app.store;
    let (client, _) = signed_in(&app, MemberRole::Owner).await?;
    let mut failures = Vec::new();
    for (what, offset) in [
        ("future expiry on a whole minute", 30 * DAY_MS),
        ("future expiry with seconds", 30 * DAY_MS + 12_345),
        ("past expiry with seconds", -DAY_MS - 12_345),
    ] {
        let token = seed_token(
            store,
            &team.owner,
            what,
            TokenKind::Personal,
            TokenRole::Reader,
        )
        .await?;
        let minute = 60_000;
        let base = (now_ms() / minute) * minute;
        let expires = base + offset;
        sqlx::query("UPDATE tokens SET expires_at = $1 WHERE id = $2")
            .bind(expires)
            .bind(&token.id)
            .execute(store.sql())
            .await?;
        let url = format!("{TOKENS_URL}/{}/edit", token.id);
        let body = app.get(&client, &url).await?.text().await?;
        let mut fields = form_values(&body);
        for (name, value) in &mut fields {
            if name == "name" {
                value.push_str(" renamed");
            }
        }
        let res = client.post(app.url(&url)).form(&fields).send().await?;
        let status = res.status();
        let t = store.find_token(&token.id).await?.expect("token");
        if status != StatusCode::SEE_OTHER {
            let text = html::text_of(&res.text().await?);
            let error = text
                .split("Error:")
                .nth(1)
                .map(|s| s.chars().take(80).collect::<String>());
            failures.push(format!("{what}: {status}, {error:?}"));
        } else if t.expires_at != Some(expires) {
            failures.push(format!(
                "{what}: expiry changed from {expires} to {:?}",
                t.expires_at
            ));
        } else if !t.name.ends_with(" renamed") {
            failures.push(format!("{what}: not renamed"));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
    Ok(())
}

/// The pages' actions are audited with the member and the connection's
/// address.
#[tokio::test]
async fn page_actions_are_audited_with_the_client_ip() -> TestResult {
    let (app, team) = spawn_team().await?;
    let store = &app.store;
    let (client, csrf) = signed_in(&app, MemberRole::Admin).await?;
    let res = post_form(&app, &client, TOKENS_URL, &create_fields(&csrf, "audited")).await?;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let id: String = sqlx::query_scalar("SELECT id FROM tokens WHERE name = 'audited'")
        .fetch_one(store.sql())
        .await?;
    let base = format!("{TOKENS_URL}/{id}");
    for (path, fields) in [
        (format!("{base}/clone"), vec![("csrf_token", csrf.as_str())]),
        (
            format!("{base}/edit"),
            with(create_fields(&csrf, "audited 2"), "role", "admin"),
        ),
        (
            format!("{base}/reset"),
            vec![
                ("csrf_token", csrf.as_str()),
                ("grace", "24h"),
                ("confirm_name", "audited 2"),
            ],
        ),
        (
            format!("{base}/delete"),
            vec![("csrf_token", csrf.as_str())],
        ),
    ] {
        let res = post_form(&app, &client, &path, &fields).await?;
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "{path}");
    }
    let events = crate::token_support::audit_for_token(store, &id).await?;
    let actions: Vec<&str> = events.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        [
            "token_created",
            "token_updated",
            "token_reset",
            "token_deleted"
        ]
    );
    for e in &events {
        assert_eq!(e.client_ip.as_deref(), Some("127.0.0.1"), "{e:?}");
        assert_eq!(e.actor_member_id.as_deref(), Some(team.admin.id.as_str()));
        assert_eq!(e.actor_email.as_deref(), Some(team.admin.email.as_str()));
        assert!(
            e.token_name
                .as_deref()
                .is_some_and(|n| n.starts_with("audited"))
        );
    }
    let cloned: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_events WHERE action = 'token_cloned'
         AND source_token_id = $1 AND client_ip = '127.0.0.1'",
    )
    .bind(&id)
    .fetch_one(store.sql())
    .await?;
    assert_eq!(cloned, 1);
    // The audit log page shows them.
    let body = app.get(&client, "/settings/audit").await?.text().await?;
    let text = html::text_of(&body);
    for label in [
        "Token created",
        "Token cloned",
        "Token edited",
        "Token reset",
        "Token deleted",
    ] {
        assert!(text.contains(label), "{label}");
    }
    Ok(())
}

/// Two people editing the same token: the second save, made from a form
/// shown before the first one landed, is refused instead of silently
/// overwriting it, keeps what was typed, and goes through when repeated.
#[tokio::test]
async fn a_stale_edit_form_does_not_overwrite_a_newer_change() -> TestResult {
    let (app, team) = spawn_team().await?;
    let store = &app.store;
    let (writer, csrf) = signed_in(&app, MemberRole::Writer).await?;
    let token = create(
        store,
        &team.writer,
        "shared",
        TokenKind::Personal,
        TokenRole::Reader,
    )
    .await?
    .token;
    let url = format!("{TOKENS_URL}/{}/edit", token.id);
    let body = app.get(&writer, &url).await?.text().await?;
    let shown_version = html::one_with(&body, "input", "name", "version")
        .attr("value")
        .map(str::to_string)
        .ok_or_else(|| anyhow::anyhow!("the edit form carries the version"))?;
    assert_eq!(shown_version, token.version.to_string());

    // Someone else saves first.
    let first = with(
        create_fields(&csrf, "renamed by Ada"),
        "version",
        &shown_version,
    );
    let res = post_form(&app, &writer, &url, &first).await?;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);

    // The stale form is refused; the first change stands.
    let second = with(
        create_fields(&csrf, "renamed by Bo"),
        "version",
        &shown_version,
    );
    let res = post_form(&app, &writer, &url, &second).await?;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = res.text().await?;
    assert!(body.contains("Someone else changed this token"), "{body}");
    assert_eq!(
        html::one_with(&body, "input", "id", "token-name").attr("value"),
        Some("renamed by Bo"),
        "what was typed is kept"
    );
    let stored = store.find_token(&token.id).await?.expect("token exists");
    assert_eq!(stored.name, "renamed by Ada");

    // Saving again from the refreshed form is a deliberate overwrite.
    let fresh_version = html::one_with(&body, "input", "name", "version")
        .attr("value")
        .map(str::to_string)
        .ok_or_else(|| anyhow::anyhow!("the refused form carries the new version"))?;
    let third = with(
        create_fields(&csrf, "renamed by Bo"),
        "version",
        &fresh_version,
    );
    let res = post_form(&app, &writer, &url, &third).await?;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let stored = store.find_token(&token.id).await?.expect("token exists");
    assert_eq!(stored.name, "renamed by Bo");
    Ok(())
}
