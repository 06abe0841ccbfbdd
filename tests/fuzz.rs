//! Property tests over what parses untrusted input through the library's
//! public interface: the secret format, JSON Patch edits, and the pages'
//! form decoder. Nothing panics on any input; where there is a round trip
//! it holds. (The token form's own parsing, private to its module, is
//! tested beside it in src/web/tokens/form.rs.)
//!
//! Each property runs proptest's default 256 cases, a few seconds in all;
//! `make fuzz` runs them with PROPTEST_CASES=100000.

use std::collections::HashMap;

use axum::extract::FromRequest;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use latchkey::api::model::edit_from_patch;
use latchkey::domain::MemberRole;
use latchkey::domain::secret::{self, NewSecret, SECRET_LEN};
use latchkey::domain::token::{TokenKind, TokenRole};
use latchkey::store::Token;
use latchkey::web::form::WebForm;
use proptest::prelude::*;
use serde_json::{Value, json};

fn kind() -> impl Strategy<Value = TokenKind> {
    prop_oneof![Just(TokenKind::Personal), Just(TokenKind::Service)]
}

proptest! {
    /// A generated secret is well formed, and so is nothing one character
    /// away from it: CRC32 catches every change of one byte, and the shape
    /// check every change of length.
    #[test]
    fn a_generated_secret_checks_and_no_single_change_does(
        kind in kind(),
        at in 0..SECRET_LEN,
        replacement in any::<char>(),
    ) {
        let generated = NewSecret::generate(kind);
        let s = generated.expose();
        prop_assert!(secret::is_well_formed(s));
        prop_assert_eq!(generated.last_four(), &s[SECRET_LEN - 4..]);
        prop_assert_eq!(generated.digest(), secret::digest(s));

        let original = s.as_bytes()[at] as char;
        prop_assume!(replacement != original);
        let mut changed = String::with_capacity(SECRET_LEN + 4);
        changed.push_str(&s[..at]);
        changed.push(replacement);
        changed.push_str(&s[at + 1..]);
        prop_assert!(!secret::is_well_formed(&changed), "{changed:?} passed");

        // Nor a character more or less.
        let mut longer = s.to_string();
        longer.insert(at, replacement);
        prop_assert!(!secret::is_well_formed(&longer));
        let mut shorter = s.to_string();
        shorter.remove(at);
        prop_assert!(!secret::is_well_formed(&shorter));
    }

    /// Any text at all, and text shaped like a secret: an answer, never a
    /// panic (byte offsets on non-ASCII text would be one).
    #[test]
    fn any_text_is_judged_without_panicking(
        text in any::<String>(),
        shaped in "lk_(pat|svc)_[0-9A-Za-z\u{e9}\u{1F600}]{34,37}",
    ) {
        for candidate in [&text, &shaped] {
            let well_formed = secret::is_well_formed(candidate);
            prop_assert!(!well_formed || candidate.len() == SECRET_LEN);
            let _ = secret::last_four(candidate);
            prop_assert_eq!(secret::digest(candidate).len(), 64);
        }
    }
}

/// A token to patch.
fn token() -> Token {
    Token {
        id: "0123456789abcdef".into(),
        name: "deploy".into(),
        description: "ships things".into(),
        role: TokenRole::Writer,
        kind: TokenKind::Service,
        member_id: "m1".into(),
        member_email: "owner@example.com".into(),
        member_role: MemberRole::Owner,
        api_version: 20240415,
        suspended_at: None,
        old_secret_until: None,
        old_secret_last_used_at: None,
        created_at: 1,
        updated_at: 2,
        last_used_at: None,
        expires_at: Some(4_102_444_800_000),
        last_four: "abcd".into(),
        version: 1,
    }
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        ".{0,12}".prop_map(Value::from),
        prop_oneof![Just("reader"), Just("writer"), Just("admin")].prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(".{0,6}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Pointers that name a patchable field, a part of one, something else, or
/// nothing sensible at all.
fn pointer() -> impl Strategy<Value = String> {
    prop_oneof![
        prop_oneof![
            Just("/name"),
            Just("/description"),
            Just("/role"),
            Just("/defaultApiVersion"),
            Just("/expires"),
            Just("/name/0"),
            Just("/expires/-"),
            Just("/id"),
            Just("/"),
            Just(""),
            Just("/~"),
            Just("/~1name"),
            Just("name"),
        ]
        .prop_map(str::to_string),
        ".{0,16}",
        "(/[a-zA-Z~01-]{0,8}){1,3}",
    ]
}

/// One operation as a client might send it: any `op`, with or without each
/// of `path`, `from` and `value`.
fn operation() -> impl Strategy<Value = Value> {
    (
        prop_oneof![
            prop_oneof![
                Just("add"),
                Just("remove"),
                Just("replace"),
                Just("move"),
                Just("copy"),
                Just("test"),
            ]
            .prop_map(str::to_string),
            ".{0,8}",
        ],
        prop::option::of(pointer()),
        prop::option::of(pointer()),
        prop::option::of(json_value()),
    )
        .prop_map(|(op, path, from, value)| {
            let mut o = serde_json::Map::new();
            o.insert("op".into(), op.into());
            if let Some(path) = path {
                o.insert("path".into(), path.into());
            }
            if let Some(from) = from {
                o.insert("from".into(), from.into());
            }
            if let Some(value) = value {
                o.insert("value".into(), value);
            }
            Value::Object(o)
        })
}

proptest! {
    /// Whatever the body, as the API handler reads it: it is a patch or it
    /// is not (400), and a patch gives an edit or an error (422), never a
    /// panic.
    #[test]
    fn any_patch_body_is_an_edit_or_an_error(
        ops in prop::collection::vec(operation(), 0..6),
        other in json_value(),
        bytes in prop::collection::vec(any::<u8>(), 0..64),
    ) {
        let token = token();
        let bodies = [
            serde_json::to_vec(&Value::Array(ops)).expect("serializing"),
            serde_json::to_vec(&other).expect("serializing"),
            bytes,
        ];
        for body in bodies {
            if let Ok(patch) = serde_json::from_slice::<json_patch::Patch>(&body) {
                match edit_from_patch(&token, &patch) {
                    Ok(_) => {}
                    Err(e) => prop_assert_eq!(e.status, StatusCode::UNPROCESSABLE_ENTITY),
                }
            }
        }
    }

    /// Replacing fields with values of the right type gives exactly those
    /// values, the last replacement of a field winning; the rest stay.
    #[test]
    fn replacements_round_trip(
        name in prop::option::of(any::<String>()),
        description in prop::option::of(any::<String>()),
        role in prop::option::of(prop_oneof![
            Just(TokenRole::Reader), Just(TokenRole::Writer), Just(TokenRole::Admin)
        ]),
        api_version in prop::option::of(any::<i64>()),
        expires in prop::option::of(prop::option::of(any::<i64>())),
        first_name in any::<String>(),
    ) {
        let token = token();
        let mut ops = vec![json!({"op": "replace", "path": "/name", "value": first_name})];
        if let Some(v) = &name {
            ops.push(json!({"op": "replace", "path": "/name", "value": v}));
        }
        if let Some(v) = &description {
            ops.push(json!({"op": "replace", "path": "/description", "value": v}));
        }
        if let Some(v) = role {
            ops.push(json!({"op": "replace", "path": "/role", "value": v.as_str()}));
        }
        if let Some(v) = api_version {
            ops.push(json!({"op": "replace", "path": "/defaultApiVersion", "value": v}));
        }
        if let Some(v) = expires {
            ops.push(json!({"op": "replace", "path": "/expires", "value": v}));
        }
        let patch: json_patch::Patch =
            serde_json::from_value(Value::Array(ops)).expect("a well-formed patch");
        let edit = edit_from_patch(&token, &patch).map_err(|e| TestCaseError::fail(e.message))?;
        prop_assert_eq!(edit.name, name.unwrap_or(first_name));
        prop_assert_eq!(edit.description, description.unwrap_or(token.description));
        prop_assert_eq!(edit.role, role.unwrap_or(token.role));
        prop_assert_eq!(edit.api_version, api_version.unwrap_or(token.api_version));
        prop_assert_eq!(edit.expires_at, expires.unwrap_or(token.expires_at));
    }

    /// An operation on anything but the five fields is refused, whatever
    /// else the patch holds.
    #[test]
    fn a_patch_outside_the_fields_is_refused(
        field in "[a-zA-Z]{1,12}",
        value in json_value(),
    ) {
        prop_assume!(!["name", "description", "role", "defaultApiVersion", "expires"]
            .contains(&field.as_str()));
        let patch: json_patch::Patch = serde_json::from_value(json!([
            {"op": "replace", "path": "/name", "value": "fine"},
            {"op": "add", "path": format!("/{field}"), "value": value},
        ]))
        .expect("a well-formed patch");
        let refused = edit_from_patch(&token(), &patch);
        prop_assert!(matches!(refused, Err(e) if e.status == StatusCode::UNPROCESSABLE_ENTITY));
    }
}

/// A runtime for the async extractor; one for all cases.
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime")
}

proptest! {
    /// The pages' form decoder on any body and content type: a form, or a
    /// 4xx page, never a panic or a 500.
    #[test]
    fn any_form_body_is_read_or_refused_with_a_4xx(
        body in prop_oneof![
            prop::collection::vec(any::<u8>(), 0..96),
            "([a-z_%+=&0-9A-F]|%[0-9A-Fa-f]{0,2}|\u{e9}){0,48}".prop_map(String::into_bytes),
        ],
        content_type in prop_oneof![
            Just("application/x-www-form-urlencoded"),
            Just("application/x-www-form-urlencoded; charset=utf-8"),
            Just("multipart/form-data"),
            Just("text/plain"),
            Just(""),
        ],
    ) {
        let rt = runtime();
        let mut request = axum::http::Request::post("/settings/authorization/tokens");
        if !content_type.is_empty() {
            request = request.header("content-type", content_type);
        }
        let request = request.body(axum::body::Body::from(body)).expect("a request");
        let decoded = rt.block_on(WebForm::<HashMap<String, String>>::from_request(request, &()));
        if let Err(refused) = decoded {
            let status = refused.into_response().status();
            prop_assert!(status.is_client_error(), "{status}");
        }
    }
}
