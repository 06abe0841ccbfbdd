//! Organization settings: the audit log. (The Authorization page lives in
//! `web::tokens`.)

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::error::PageError;
use super::layout::{Layout, Section};
use super::session::SignedIn;
use crate::AppState;
use crate::clock;
use crate::store::AuditEvent;

fn settings_layout(title: &str, signed_in: &SignedIn, section: Section) -> Layout {
    Layout {
        title: title.to_string(),
        csrf_token: signed_in.csrf_token.clone(),
        member: Some(signed_in.member.clone()),
        section,
        flash: None,
    }
}

pub const AUDIT_PAGE_SIZE: i64 = 50;

#[derive(Debug, Deserialize)]
pub struct AuditQuery {
    page: Option<String>,
}

/// One audit event as the page shows it.
pub struct AuditRow {
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

#[derive(Template, WebTemplate)]
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
}

pub async fn audit_log(
    State(state): State<AppState>,
    signed_in: SignedIn,
    query: Result<Query<AuditQuery>, QueryRejection>,
) -> Result<Response, PageError> {
    let layout = settings_layout("Audit log", &signed_in, Section::AuditLog);
    if !signed_in.member.role.is_admin() {
        let page = AuditPage {
            layout,
            allowed: false,
            rows: Vec::new(),
            total: 0,
            page: 1,
            pages: 1,
            first_shown: 0,
            last_shown: 0,
        };
        return Ok((StatusCode::FORBIDDEN, page).into_response());
    }
    // A page number that is not a positive integer shows the first page.
    let page = query
        .ok()
        .and_then(|Query(q)| q.page)
        .and_then(|p| p.parse::<i64>().ok())
        .filter(|p| *p >= 1)
        .unwrap_or(1);
    let offset = (page - 1).saturating_mul(AUDIT_PAGE_SIZE);
    let (events, total) = state
        .store
        .list_audit_events(AUDIT_PAGE_SIZE, offset)
        .await?;
    let pages = ((total + AUDIT_PAGE_SIZE - 1) / AUDIT_PAGE_SIZE).max(1);
    let shown = events.len() as i64;
    Ok(AuditPage {
        layout,
        allowed: true,
        rows: events.into_iter().map(AuditRow::from).collect(),
        total,
        page,
        pages,
        first_shown: if shown > 0 { offset + 1 } else { 0 },
        last_shown: offset + shown,
    }
    .into_response())
}
