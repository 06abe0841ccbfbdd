//! `/settings/authorization`: the "Access tokens" table with search,
//! filters, the admins' "All members' tokens" switch and pagination, all in
//! the query string so a view can be bookmarked.

use askama::Template;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use super::row::TokenRow;
use crate::AppState;
use crate::domain::listing::{EXPIRING_DAYS, Sort, SortKey, UNUSED_DAYS};
use crate::domain::policy;
use crate::domain::token::{TokenKind, TokenRole};
use crate::http::compression::HoldsSecret;
use crate::tokens::{self, ListRequest};
use crate::web::error::{PageError, render_sized};
use crate::web::flash::{self, PendingSecret};
use crate::web::format::thousands;
use crate::web::layout::{Layout, Section};
use crate::web::session::SignedIn;

pub const PAGE_SIZE: i64 = 50;

#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    q: Option<String>,
    role: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    all: Option<String>,
    page: Option<String>,
    sort: Option<String>,
    unused: Option<String>,
    expiring: Option<String>,
}

/// The list's state as parsed from the query string. Values that make no
/// sense are dropped rather than refused: a hand-edited URL still shows a page.
#[derive(Debug, Clone, Default)]
pub struct ListState {
    pub q: String,
    pub role: Option<TokenRole>,
    pub kind: Option<TokenKind>,
    pub all: bool,
    pub page: i64,
    pub sort: Sort,
    /// "Not used in" 30 or 90 days.
    pub unused: Option<i64>,
    /// "Expiring within 7 days".
    pub expiring: bool,
}

/// A sortable column header: where its link goes and its `aria-sort`.
pub struct SortHeader {
    pub label: &'static str,
    pub href: String,
    /// `ascending` or `descending` on the column the list is sorted by.
    pub aria_sort: Option<&'static str>,
}

impl ListState {
    fn from_query(query: ListQuery) -> Self {
        ListState {
            q: query
                .q
                .map(|q| q.trim().chars().take(256).collect())
                .unwrap_or_default(),
            role: query.role.and_then(|r| r.parse().ok()),
            kind: query.kind.as_deref().and_then(TokenKind::parse),
            all: query.all.as_deref() == Some("1"),
            sort: query
                .sort
                .as_deref()
                .and_then(Sort::parse)
                .unwrap_or_default(),
            unused: query
                .unused
                .and_then(|d| d.parse::<i64>().ok())
                .filter(|d| UNUSED_DAYS.contains(d)),
            expiring: query.expiring.as_deref() == Some(&EXPIRING_DAYS.to_string()),
            page: query
                .page
                .and_then(|p| p.parse::<i64>().ok())
                .filter(|p| (1..=1_000_000).contains(p))
                .unwrap_or(1),
        }
    }

    pub fn is_filtered(&self) -> bool {
        !self.q.is_empty()
            || self.role.is_some()
            || self.kind.is_some()
            || self.unused.is_some()
            || self.expiring
    }

    pub fn unused_value(&self) -> String {
        self.unused.map(|d| d.to_string()).unwrap_or_default()
    }

    pub fn unused_options(&self) -> [i64; 2] {
        UNUSED_DAYS
    }

    pub fn expiring_days(&self) -> i64 {
        EXPIRING_DAYS
    }

    /// The "Sort by" choices (the column headers offer the same).
    pub fn sort_options(&self) -> [(&'static str, &'static str); 8] {
        [
            ("name", "Name, A to Z"),
            ("-name", "Name, Z to A"),
            ("-created", "Newest first"),
            ("created", "Oldest first"),
            ("lastUsed", "Least recently used first"),
            ("-lastUsed", "Most recently used first"),
            ("expires", "Expiring soonest first"),
            ("-expires", "Expiring last first"),
        ]
    }

    /// The sort to keep in URLs, when it is not the default.
    pub fn sort_param(&self) -> Option<String> {
        (!self.sort.is_default()).then(|| self.sort.as_param())
    }

    /// The sortable column headers: a link to sort by each (or, on the
    /// sorted column, the other way), the view otherwise kept, page 1.
    pub fn sort_header(&self, key: SortKey) -> SortHeader {
        let current = self.sort.key == key;
        let next = Sort {
            key,
            descending: if current {
                !self.sort.descending
            } else {
                key.natural_descending()
            },
        };
        let view = ListState {
            sort: next,
            page: 1,
            ..self.clone()
        };
        SortHeader {
            label: match key {
                SortKey::Name => "Name",
                SortKey::Created => "Created",
                SortKey::LastUsed => "Last used",
                SortKey::Expires => "Expires",
            },
            href: view.url_for_page(1),
            aria_sort: current.then_some(if self.sort.descending {
                "descending"
            } else {
                "ascending"
            }),
        }
    }

    pub fn role_value(&self) -> &'static str {
        self.role.map(TokenRole::as_str).unwrap_or("")
    }

    pub fn kind_value(&self) -> &'static str {
        self.kind.map(TokenKind::as_str).unwrap_or("")
    }

    /// The URL of another page of this same view.
    pub fn url_for_page(&self, page: i64) -> String {
        let mut query = form_urlencoded::Serializer::new(String::new());
        if !self.q.is_empty() {
            query.append_pair("q", &self.q);
        }
        if let Some(role) = self.role {
            query.append_pair("role", role.as_str());
        }
        if let Some(kind) = self.kind {
            query.append_pair("type", kind.as_str());
        }
        if self.all {
            query.append_pair("all", "1");
        }
        if let Some(days) = self.unused {
            query.append_pair("unused", &days.to_string());
        }
        if self.expiring {
            query.append_pair("expiring", &EXPIRING_DAYS.to_string());
        }
        if let Some(sort) = self.sort_param() {
            query.append_pair("sort", &sort);
        }
        if page > 1 {
            query.append_pair("page", &page.to_string());
        }
        let query = query.finish();
        if query.is_empty() {
            super::LIST_URL.to_string()
        } else {
            format!("{}?{query}", super::LIST_URL)
        }
    }
}

#[derive(Template)]
#[template(path = "tokens/page.html")]
pub struct AuthorizationPage {
    pub layout: Layout,
    pub rows: Vec<TokenRow>,
    pub state: ListState,
    /// Whether the "All members' tokens" switch is offered.
    pub is_admin: bool,
    pub can_create: bool,
    pub total: i64,
    pub total_text: String,
    pub first_shown: String,
    pub last_shown: String,
    pub pages: i64,
    pub new_secret: Option<PendingSecret>,
}

impl AuthorizationPage {
    pub fn role_options(&self) -> [(&'static str, &'static str); 3] {
        TokenRole::ALL.map(|r| (r.as_str(), r.label()))
    }
}

pub async fn authorization_page(
    State(state): State<AppState>,
    signed_in: SignedIn,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Response, PageError> {
    let list_state = ListState::from_query(query.map(|Query(q)| q).unwrap_or_default());
    let caller = signed_in.caller();
    let actor = signed_in.actor();
    let offset = (list_state.page - 1) * PAGE_SIZE;
    let request = ListRequest {
        all_members: list_state.all,
        name_contains: Some(list_state.q.clone()).filter(|q| !q.is_empty()),
        role: list_state.role,
        kind: list_state.kind,
        sort: list_state.sort,
        unused_days: list_state.unused,
        expiring_days: list_state.expiring.then_some(EXPIRING_DAYS),
        limit: PAGE_SIZE,
        offset,
    };
    let (mut tokens, total) = tokens::list(&state.store, caller, &request).await?;
    let pages = ((total + PAGE_SIZE - 1) / PAGE_SIZE).max(1);
    let mut list_state = list_state;
    let mut offset = offset;
    // A page past the end (an old bookmark, a hand-edited URL) shows the last.
    if list_state.page > pages {
        list_state.page = pages;
        offset = (pages - 1) * PAGE_SIZE;
        tokens = tokens::list(&state.store, caller, &ListRequest { offset, ..request })
            .await?
            .0;
    }
    let now = state.clock.now_ms();
    let rows: Vec<TokenRow> = tokens
        .iter()
        .map(|t| TokenRow::new(t, caller, now))
        .collect();
    let (flash, new_secret) = flash::take(&signed_in.session, &state.pending_secrets).await?;
    let shown = rows.len() as i64;
    let is_admin = policy::can_see_all_members_tokens(actor);
    // About 1.3 KB a row and 7 KB around them.
    let size_hint = 7 * 1024 + rows.len() * 1400;
    let holds_secret = new_secret.is_some();
    let mut page = render_sized(
        StatusCode::OK,
        &AuthorizationPage {
            layout: Layout {
                flash,
                ..signed_in.layout("Authorization", Section::Authorization)
            },
            can_create: policy::can_manage_tokens(actor).is_ok(),
            is_admin,
            state: ListState {
                all: list_state.all && is_admin,
                ..list_state
            },
            total,
            total_text: thousands(total),
            first_shown: thousands(if shown > 0 { offset + 1 } else { 0 }),
            last_shown: thousands(offset + shown),
            pages,
            rows,
            new_secret,
        },
        size_hint,
    );
    if holds_secret {
        page.extensions_mut().insert(HoldsSecret);
    }
    Ok(page)
}
