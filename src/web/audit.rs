//! The audit log page (`/settings/audit`): newest first, narrowed by token,
//! by the member who acted and by action, all in the URL, 50 to a page.

use std::collections::HashMap;

use askama::Template;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use super::error::{PageError, render};
use super::format::Verbatim;
use super::layout::{Layout, Section};
use super::session::SignedIn;
use crate::AppState;
use crate::clock;
use crate::domain::audit::AuditAction;
use crate::domain::{ids, policy};
use crate::store::{AuditEvent, AuditFilter, Member};

pub const AUDIT_PAGE_SIZE: i64 = 50;

#[derive(Debug, Deserialize)]
pub struct AuditQuery {
    page: Option<String>,
    token: Option<String>,
    member: Option<String>,
    action: Option<String>,
}

/// The view's filters as the URL gave them. Only well-formed values narrow
/// the log; anything else is ignored (and the control shows "All").
#[derive(Debug, Default, Clone)]
pub struct AuditView {
    pub token: Option<String>,
    pub member: Option<String>,
    pub action: Option<AuditAction>,
    pub page: i64,
}

impl AuditView {
    fn from_query(query: Option<AuditQuery>) -> Self {
        let query = query.unwrap_or(AuditQuery {
            page: None,
            token: None,
            member: None,
            action: None,
        });
        let id = |v: Option<String>| {
            v.map(|s| s.trim().to_string())
                .filter(|s| ids::is_valid_id(s))
        };
        AuditView {
            token: id(query.token),
            member: id(query.member),
            action: query.action.as_deref().and_then(AuditAction::parse),
            page: query
                .page
                .and_then(|p| p.parse::<i64>().ok())
                .filter(|p| *p >= 1)
                .unwrap_or(1),
        }
    }

    fn filter(&self) -> AuditFilter<'_> {
        AuditFilter {
            token_id: self.token.as_deref(),
            actor_member_id: self.member.as_deref(),
            action: self.action,
        }
    }

    pub fn is_filtered(&self) -> bool {
        self.token.is_some() || self.member.is_some() || self.action.is_some()
    }

    pub fn token_value(&self) -> &str {
        self.token.as_deref().unwrap_or("")
    }

    pub fn member_value(&self) -> &str {
        self.member.as_deref().unwrap_or("")
    }

    pub fn action_value(&self) -> &str {
        self.action.map_or("", AuditAction::as_str)
    }

    /// The URL of this view at another page.
    pub fn url_for_page(&self, page: i64) -> String {
        let mut query = form_urlencoded::Serializer::new(String::new());
        if let Some(token) = &self.token {
            query.append_pair("token", token);
        }
        if let Some(member) = &self.member {
            query.append_pair("member", member);
        }
        if let Some(action) = self.action {
            query.append_pair("action", action.as_str());
        }
        if page > 1 {
            query.append_pair("page", &page.to_string());
        }
        let query = query.finish();
        if query.is_empty() {
            "/settings/audit".to_string()
        } else {
            format!("/settings/audit?{query}")
        }
    }
}

/// One audit event as the page shows it.
pub struct AuditRow {
    pub time_iso: Verbatim,
    pub time_text: Verbatim,
    pub action: &'static str,
    pub actor: String,
    /// The token's id while it still exists (the name links to its events).
    pub token_id: Option<String>,
    /// The token's name at the time of the event.
    pub token: String,
    /// For a clone: the source token's current name, or that it is gone.
    pub source: Option<String>,
    pub detail: String,
    pub client_ip: String,
}

impl AuditRow {
    fn new(e: AuditEvent, names: &HashMap<String, String>) -> Self {
        let exists = e.token_id.as_ref().filter(|id| names.contains_key(*id));
        AuditRow {
            time_iso: Verbatim::new(clock::format_rfc3339(e.occurred_at)),
            time_text: Verbatim::new(clock::format_utc(e.occurred_at)),
            action: e.action.label(),
            // No actor: the command line or the server itself did it.
            actor: e.actor_email.unwrap_or_else(|| "System".to_string()),
            token_id: exists.cloned(),
            token: e.token_name.unwrap_or_default(),
            source: e.source_token_id.map(|id| {
                names
                    .get(&id)
                    .cloned()
                    .unwrap_or_else(|| "a token since deleted".to_string())
            }),
            detail: e.detail.unwrap_or_default(),
            client_ip: e.client_ip.unwrap_or_default(),
        }
    }
}

#[derive(Template)]
#[template(path = "audit.html")]
pub struct AuditPage {
    pub layout: Layout,
    pub allowed: bool,
    pub view: AuditView,
    pub rows: Vec<AuditRow>,
    pub total: i64,
    pub pages: i64,
    pub first_shown: i64,
    pub last_shown: i64,
    /// The name of the token the log is narrowed to.
    pub token_name: Option<String>,
    pub members: Vec<Member>,
    pub actions: Vec<(&'static str, &'static str)>,
}

pub async fn audit_log(
    State(state): State<AppState>,
    signed_in: SignedIn,
    query: Result<Query<AuditQuery>, QueryRejection>,
) -> Result<Response, PageError> {
    let layout = signed_in.layout("Audit log", Section::AuditLog);
    let view = AuditView::from_query(query.ok().map(|Query(q)| q));
    if !policy::can_read_audit_log(signed_in.actor()) {
        let page = AuditPage {
            layout,
            allowed: false,
            view,
            rows: Vec::new(),
            total: 0,
            pages: 1,
            first_shown: 0,
            last_shown: 0,
            token_name: None,
            members: Vec::new(),
            actions: Vec::new(),
        };
        return Ok(render(StatusCode::FORBIDDEN, &page));
    }
    let offset = (view.page - 1).saturating_mul(AUDIT_PAGE_SIZE);
    let (events, total) = state
        .store
        .list_audit_events(&view.filter(), AUDIT_PAGE_SIZE, offset)
        .await?;
    // Which of the tokens named still exist, and what they are called now.
    let mut mentioned: Vec<&str> = events
        .iter()
        .flat_map(|e| [e.token_id.as_deref(), e.source_token_id.as_deref()])
        .flatten()
        .chain(view.token.as_deref())
        .collect();
    mentioned.sort_unstable();
    mentioned.dedup();
    let names = state.store.token_names(&mentioned).await?;
    let token_name = view.token.as_ref().map(|id| {
        names
            .get(id)
            .cloned()
            .or_else(|| {
                events
                    .iter()
                    .find(|e| e.token_id.as_deref() == Some(id))
                    .and_then(|e| e.token_name.clone())
            })
            .unwrap_or_else(|| "an unknown token".to_string())
    });
    let members = state
        .store
        .list_members()
        .await?
        .into_iter()
        .map(|s| s.member)
        .collect();
    let pages = ((total + AUDIT_PAGE_SIZE - 1) / AUDIT_PAGE_SIZE).max(1);
    let shown = events.len() as i64;
    Ok(render(
        StatusCode::OK,
        &AuditPage {
            layout,
            allowed: true,
            rows: events
                .into_iter()
                .map(|e| AuditRow::new(e, &names))
                .collect(),
            total,
            pages,
            first_shown: if shown > 0 { offset + 1 } else { 0 },
            last_shown: offset + shown,
            token_name,
            members,
            actions: AuditAction::ALL
                .iter()
                .map(|a| (a.as_str(), a.label()))
                .collect(),
            view,
        },
    ))
}
