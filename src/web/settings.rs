//! Organization settings: the audit log. (The Authorization page lives in
//! `web::tokens`.)

use askama::Template;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use super::error::{PageError, render};
use super::layout::{Layout, Section};
use super::session::SignedIn;
use crate::AppState;
use crate::clock;
use crate::domain::policy;
use crate::store::AuditEvent;

pub const AUDIT_PAGE_SIZE: i64 = 50;

#[derive(Debug, Deserialize)]
pub struct AuditQuery {
    page: Option<String>,
    token: Option<String>,
}

/// One audit event as the page shows it.
pub struct AuditRow {
    pub token_id: String,
    pub time_iso: String,
    pub time_text: String,
    pub action: &'static str,
    pub actor: String,
    pub token: String,
    pub detail: String,
    pub client_ip: String,
}

impl From<AuditEvent> for AuditRow {
    fn from(e: AuditEvent) -> Self {
        let (time_iso, time_text) = clock::from_ms(e.occurred_at)
            .map(|t| (format_iso(t), format_readable(t)))
            .unwrap_or_default();
        AuditRow {
            token_id: e.token_id.clone().unwrap_or_default(),
            time_iso,
            time_text,
            action: e.action.label(),
            // No actor: the command line or the server itself did it.
            actor: e.actor_email.unwrap_or_else(|| "System".to_string()),
            token: e.token_name.unwrap_or_default(),
            detail: e.detail.unwrap_or_default(),
            client_ip: e.client_ip.unwrap_or_default(),
        }
    }
}

fn format_iso(t: time::OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

fn format_readable(t: time::OffsetDateTime) -> String {
    let fmt =
        time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second] UTC");
    t.format(&fmt).unwrap_or_default()
}

#[derive(Template)]
#[template(path = "audit.html")]
pub struct AuditPage {
    pub layout: Layout,
    pub allowed: bool,
    pub rows: Vec<AuditRow>,
    pub total: i64,
    pub page: i64,
    pub pages: i64,
    pub first_shown: i64,
    pub last_shown: i64,
    /// The token the log is narrowed to: `(id, name)`.
    pub token_filter: Option<(String, String)>,
}

impl AuditPage {
    /// The URL of another page of this same view.
    pub fn page_url(&self, page: i64) -> String {
        match &self.token_filter {
            Some((id, _)) => format!("/settings/audit?token={id}&page={page}"),
            None => format!("/settings/audit?page={page}"),
        }
    }
}

pub async fn audit_log(
    State(state): State<AppState>,
    signed_in: SignedIn,
    query: Result<Query<AuditQuery>, QueryRejection>,
) -> Result<Response, PageError> {
    let layout = signed_in.layout("Audit log", Section::AuditLog);
    if !policy::can_read_audit_log(signed_in.actor()) {
        let page = AuditPage {
            layout,
            allowed: false,
            rows: Vec::new(),
            total: 0,
            page: 1,
            pages: 1,
            first_shown: 0,
            last_shown: 0,
            token_filter: None,
        };
        return Ok(render(StatusCode::FORBIDDEN, &page));
    }
    let query = query.ok().map(|Query(q)| q);
    // Only a well-formed id narrows the log; anything else shows everything.
    let token_id = query
        .as_ref()
        .and_then(|q| q.token.clone())
        .filter(|t| crate::domain::ids::is_valid_id(t));
    // A page number that is not a positive integer shows the first page.
    let page = query
        .and_then(|q| q.page)
        .and_then(|p| p.parse::<i64>().ok())
        .filter(|p| *p >= 1)
        .unwrap_or(1);
    let offset = (page - 1).saturating_mul(AUDIT_PAGE_SIZE);
    let (events, total) = state
        .store
        .list_audit_events(token_id.as_deref(), AUDIT_PAGE_SIZE, offset)
        .await?;
    let token_filter = match token_id {
        Some(id) => {
            let name = match state.store.find_token(&id).await? {
                Some(token) => token.name,
                None => events
                    .iter()
                    .find(|e| e.token_id.as_deref() == Some(id.as_str()))
                    .and_then(|e| e.token_name.clone())
                    .unwrap_or_else(|| "an unknown token".to_string()),
            };
            Some((id, name))
        }
        None => None,
    };
    let pages = ((total + AUDIT_PAGE_SIZE - 1) / AUDIT_PAGE_SIZE).max(1);
    let shown = events.len() as i64;
    Ok(render(
        StatusCode::OK,
        &AuditPage {
            layout,
            allowed: true,
            rows: events.into_iter().map(AuditRow::from).collect(),
            total,
            page,
            pages,
            first_shown: if shown > 0 { offset + 1 } else { 0 },
            last_shown: offset + shown,
            token_filter,
        },
    ))
}
