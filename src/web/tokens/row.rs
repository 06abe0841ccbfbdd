//! One row of the "Access tokens" table, as every response renders it.

use askama::Template;

use crate::clock;
use crate::domain::token::TokenKind;
use crate::store::Token;
use crate::tokens::{self, Allowed, Caller};
use crate::web::format;

/// What the row shows, already formatted.
pub struct TokenRow {
    pub id: String,
    pub name: String,
    pub description: String,
    pub role: &'static str,
    pub kind: &'static str,
    pub member: String,
    pub last_four: String,
    pub created_iso: String,
    pub created_text: String,
    /// `(datetime, relative text, exact text)`, or `None` for never.
    pub last_used: Option<(String, String, String)>,
    /// `(datetime, date, exact time)`.
    pub expires: Option<(String, String, String)>,
    pub expired: bool,
    pub allowed: Allowed,
}

impl TokenRow {
    pub fn new(token: &Token, caller: Caller<'_>, now_ms: i64) -> Self {
        TokenRow {
            id: token.id.clone(),
            name: token.name.clone(),
            description: token.description.clone(),
            role: token.role.label(),
            kind: token.kind.label(),
            member: match token.kind {
                TokenKind::Service => "Organization".to_string(),
                TokenKind::Personal => token.member_email.clone(),
            },
            last_four: token.last_four.clone(),
            created_iso: clock::format_rfc3339(token.created_at),
            created_text: format::date(token.created_at),
            last_used: token.last_used_at.map(|t| {
                (
                    clock::format_rfc3339(t),
                    format::relative(t, now_ms),
                    clock::format_utc(t),
                )
            }),
            expires: token.expires_at.map(|t| {
                (
                    clock::format_rfc3339(t),
                    format::date(t),
                    clock::format_utc(t),
                )
            }),
            expired: token.is_expired(now_ms),
            allowed: tokens::allowed(caller, token),
        }
    }

    pub fn has_actions(&self) -> bool {
        let a = self.allowed;
        a.edit || a.clone || a.reset || a.delete
    }
}

/// A row on its own, for htmx. `oob` is empty for a plain row, `true` to
/// replace the row with the same id, or a swap like `afterend:#row-…`; table
/// rows travel inside `<template>` so the HTML parser keeps them.
#[derive(Template)]
#[template(path = "tokens/row_fragment.html")]
pub struct RowFragment<'a> {
    pub row: &'a TokenRow,
    pub csrf_token: &'a str,
    pub oob: &'a str,
}
