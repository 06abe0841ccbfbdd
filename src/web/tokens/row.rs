//! One row of the "Access tokens" table, as every response renders it.

use askama::Template;

use crate::clock;
use crate::domain::policy;
use crate::domain::token::TokenKind;
use crate::store::Token;
use crate::tokens::{self, Allowed, Caller};
use crate::web::format::{self, Verbatim};

/// What the row shows, already formatted. What no user typed (ids, dates,
/// labels) is `Verbatim`, written without escaping; names, descriptions and
/// emails are escaped as usual.
pub struct TokenRow {
    pub id: Verbatim,
    pub name: String,
    pub description: String,
    pub role: Verbatim,
    pub kind: Verbatim,
    pub member: String,
    pub last_four: Verbatim,
    pub created_iso: Verbatim,
    pub created_text: Verbatim,
    /// `(datetime, relative text, exact text)`, or `None` for never.
    pub last_used: Option<Moment>,
    /// `(datetime, date, exact time)`.
    pub expires: Option<Moment>,
    pub expired: bool,
    pub suspended: bool,
    /// While a reset's grace period runs: until when the old secret works
    /// `(datetime, text, exact text)`, and its last use since the reset
    /// `(datetime, relative text, exact text)`, `None` for not since.
    pub grace: Option<GraceLine>,
    pub allowed: Allowed,
    /// Whether the menu links to the token's events (Admins and Owners).
    pub audit_log: bool,
}

impl TokenRow {
    pub fn new(token: &Token, caller: Caller<'_>, now_ms: i64) -> Self {
        TokenRow {
            id: Verbatim::new(token.id.clone()),
            name: token.name.clone(),
            description: token.description.clone(),
            role: Verbatim::new(token.role.label()),
            kind: Verbatim::new(token.kind.label()),
            member: match token.kind {
                TokenKind::Service => "Organization".to_string(),
                TokenKind::Personal => token.member_email.clone(),
            },
            last_four: Verbatim::new(token.last_four.clone()),
            created_iso: Verbatim::new(clock::format_rfc3339(token.created_at)),
            created_text: Verbatim::new(format::date(token.created_at)),
            last_used: token
                .last_used_at
                .map(|t| moment(t, format::relative(t, now_ms))),
            expires: token.expires_at.map(|t| moment(t, format::date(t))),
            expired: token.is_expired(now_ms),
            suspended: token.is_suspended(),
            grace: GraceLine::new(token, now_ms),
            allowed: tokens::allowed(caller, token),
            audit_log: policy::can_read_audit_log(caller.actor()),
        }
    }

    pub fn has_actions(&self) -> bool {
        let a = self.allowed;
        a.edit || a.clone || a.reset || a.suspend || a.delete || self.audit_log
    }
}

/// `(datetime, text, exact text)` of a moment.
pub type Moment = (Verbatim, Verbatim, Verbatim);

/// What the row says of a running grace period.
pub struct GraceLine {
    pub until: Moment,
    pub last_used: Option<Moment>,
}

fn moment(t: i64, text: String) -> Moment {
    (
        Verbatim::new(clock::format_rfc3339(t)),
        Verbatim::new(text),
        Verbatim::new(clock::format_utc(t)),
    )
}

impl GraceLine {
    pub fn new(token: &Token, now_ms: i64) -> Option<Self> {
        token.grace(now_ms).map(|g| GraceLine {
            until: moment(g.until, format::date_time(g.until)),
            last_used: g
                .last_used_at
                .map(|t| moment(t, format::relative(t, now_ms))),
        })
    }
}

/// A row on its own, for htmx. `oob` is empty for a plain row, `true` to
/// replace the row with the same id, or a swap like `afterend:#row-…`; table
/// rows travel inside `<template>` so the HTML parser keeps them.
#[derive(Template)]
#[template(path = "tokens/row_fragment.html")]
pub struct RowFragment<'a> {
    pub row: &'a TokenRow,
    pub oob: &'a str,
}
