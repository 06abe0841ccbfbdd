//! The Members page (`/settings/members`): who is in the organization, and
//! adding a member, changing a role, removing a member. Like the token
//! actions, each is a dialog with htmx and a page and plain form post
//! without; the rules live in `crate::members`.

use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum_htmx::HxRequest;
use serde::Deserialize;

use super::error::{PageError, render};
use super::flash;
use super::form::WebForm;
use super::format::{self, Verbatim};
use super::htmx::{ActionFrame, HtmxResponse, dialog_or_page};
use super::layout::{Layout, Section};
use super::session::SignedIn;
use crate::AppState;
use crate::action::ActionError;
use crate::clock;
use crate::domain::{MemberRole, ValidationError, policy};
use crate::members::{self, AddRequest, Allowed};
use crate::store::{Member, MemberSummary};
use crate::tokens::Caller;

pub const MEMBERS_URL: &str = "/settings/members";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(MEMBERS_URL, get(page).post(add_submit))
        .route("/settings/members/new", get(add_page))
        .route(
            "/settings/members/{id}/role",
            get(role_page).post(role_submit),
        )
        .route(
            "/settings/members/{id}/remove",
            get(remove_page).post(remove_submit),
        )
}

/// One row of the "Members" table, formatted.
pub struct MemberRow {
    pub id: Verbatim,
    pub email: String,
    pub role: Verbatim,
    pub tokens: i64,
    /// `(datetime, relative text, exact text)`, or `None` for never.
    pub last_sign_in: Option<(Verbatim, Verbatim, Verbatim)>,
    pub is_you: bool,
    pub allowed: Allowed,
}

impl MemberRow {
    fn new(summary: &MemberSummary, caller: Caller<'_>, you: &str, now_ms: i64) -> Self {
        let member = &summary.member;
        MemberRow {
            id: Verbatim::new(member.id.clone()),
            email: member.email.clone(),
            role: Verbatim::new(member.role.label()),
            tokens: summary.personal_tokens,
            last_sign_in: summary.last_sign_in_at.map(|t| {
                (
                    Verbatim::new(clock::format_rfc3339(t)),
                    Verbatim::new(format::relative(t, now_ms)),
                    Verbatim::new(clock::format_utc(t)),
                )
            }),
            is_you: member.id == you,
            allowed: members::allowed(caller, member),
        }
    }
}

#[derive(Template)]
#[template(path = "members/page.html")]
struct MembersPage {
    layout: Layout,
    allowed: bool,
    rows: Vec<MemberRow>,
}

/// A row on its own, replacing the one with the same id (htmx).
#[derive(Template)]
#[template(
    source = r#"<template>{% include "members/row.html" %}</template>"#,
    ext = "html"
)]
struct RowFragment<'a> {
    row: &'a MemberRow,
}

pub async fn page(
    State(state): State<AppState>,
    signed_in: SignedIn,
) -> Result<Response, PageError> {
    let mut layout = signed_in.layout("Members", Section::Members);
    let caller = signed_in.caller();
    let summaries = match members::list(&state.store, caller).await {
        Ok(list) => list,
        Err(ActionError::Forbidden(_)) => {
            let page = MembersPage {
                layout,
                allowed: false,
                rows: Vec::new(),
            };
            return Ok(render(StatusCode::FORBIDDEN, &page));
        }
        Err(e) => return Err(e.into()),
    };
    layout.flash = flash::take_message(&signed_in.session).await?;
    let now = state.clock.now_ms();
    let rows = summaries
        .iter()
        .map(|s| MemberRow::new(s, caller, &signed_in.member.id, now))
        .collect();
    Ok(render(
        StatusCode::OK,
        &MembersPage {
            layout,
            allowed: true,
            rows,
        },
    ))
}

/// A role as a choice in a form, disabled with the reason when the actor
/// may not give it.
pub struct RoleChoice {
    pub value: &'static str,
    pub label: &'static str,
    pub summary: &'static str,
    pub checked: bool,
    pub unavailable: Option<String>,
}

fn summary_of(role: MemberRole) -> &'static str {
    match role {
        MemberRole::Owner => "Everything an Admin can do, and manage Owners.",
        MemberRole::Admin => "Manage members, every token and the audit log.",
        MemberRole::Writer => "Personal tokens up to Writer.",
        MemberRole::Reader => "Personal tokens up to Reader.",
        MemberRole::NoAccess => {
            "Signs in but can change nothing; their personal tokens stop working."
        }
    }
}

/// The roles, lowest first as the token form lists them, each as `allowed`
/// says: `None` when the actor may give it, else why not.
fn role_choices(
    checked: Option<MemberRole>,
    allowed: impl Fn(MemberRole) -> Option<String>,
) -> Vec<RoleChoice> {
    MemberRole::ALL
        .into_iter()
        .rev()
        .map(|role| RoleChoice {
            value: role.as_str(),
            label: role.label(),
            summary: summary_of(role),
            checked: checked == Some(role),
            unavailable: allowed(role),
        })
        .collect()
}

// ---- Add member ----

#[derive(Debug, Default, Deserialize)]
pub struct AddInput {
    #[serde(default)]
    email: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    password: String,
}

/// What went wrong, per field, on the add form.
#[derive(Debug, Default)]
struct AddErrors {
    form: Option<String>,
    email: Option<String>,
    role: Option<String>,
    password: Option<String>,
}

impl AddErrors {
    fn add(&mut self, e: ValidationError) {
        let slot = match e.field {
            "email" => &mut self.email,
            "role" => &mut self.role,
            "password" => &mut self.password,
            _ => &mut self.form,
        };
        slot.get_or_insert(e.message);
    }

    fn first_invalid(&self) -> &'static str {
        if self.email.is_some() {
            "member-email"
        } else if self.role.is_some() {
            "member-role-first"
        } else if self.password.is_some() {
            "member-password"
        } else {
            ""
        }
    }
}

#[derive(Template)]
#[template(path = "members/add_form.html")]
struct AddForm<'a> {
    csrf_token: &'a str,
    email: &'a str,
    roles: Vec<RoleChoice>,
    errors: AddErrors,
    in_dialog: bool,
}

fn add_form_response(
    signed_in: &SignedIn,
    htmx: bool,
    status: StatusCode,
    input: &AddInput,
    errors: AddErrors,
) -> Response {
    let actor = signed_in.actor();
    let checked = input.role.parse().ok().or(Some(MemberRole::Reader));
    let roles = role_choices(checked, |role| {
        policy::can_add_member(actor, role).err().map(|d| d.0)
    });
    dialog_or_page(
        htmx,
        signed_in,
        ActionFrame {
            heading: "Add a member",
            alert: false,
            return_focus: None,
            section: Section::Members,
        },
        status,
        |in_dialog| AddForm {
            csrf_token: &signed_in.csrf_token,
            email: &input.email,
            roles,
            errors,
            in_dialog,
        },
    )
}

pub async fn add_page(
    signed_in: SignedIn,
    HxRequest(htmx): HxRequest,
) -> Result<Response, PageError> {
    policy::can_manage_members(signed_in.actor())?;
    Ok(add_form_response(
        &signed_in,
        htmx,
        StatusCode::OK,
        &AddInput::default(),
        AddErrors::default(),
    ))
}

pub async fn add_submit(
    State(state): State<AppState>,
    signed_in: SignedIn,
    HxRequest(htmx): HxRequest,
    WebForm(input): WebForm<AddInput>,
) -> Result<Response, PageError> {
    let mut errors = AddErrors::default();
    let Ok(role) = input.role.parse::<MemberRole>() else {
        errors.role = Some("Choose a role.".to_string());
        return Ok(add_form_response(
            &signed_in,
            htmx,
            StatusCode::UNPROCESSABLE_ENTITY,
            &input,
            errors,
        ));
    };
    let request = AddRequest {
        email: input.email.clone(),
        role,
        password: input.password.clone(),
    };
    let member = match members::add(&state.store, signed_in.caller(), request).await {
        Ok(member) => member,
        Err(ActionError::Invalid(list)) => {
            list.into_iter().for_each(|e| errors.add(e));
            return Ok(add_form_response(
                &signed_in,
                htmx,
                StatusCode::UNPROCESSABLE_ENTITY,
                &input,
                errors,
            ));
        }
        Err(e) => return Err(e.into()),
    };
    let message = format!(
        "Added {} as {}. Give them their initial password privately.",
        member.email,
        member.role.label()
    );
    if htmx {
        // The new row belongs in email order: the simplest faithful answer
        // is the page again, with the message waiting on it.
        flash::set_message(&signed_in.session, message).await?;
        return Ok(HtmxResponse::empty()
            .header("hx-redirect", MEMBERS_URL)
            .into_response());
    }
    back_to_members(&signed_in, message).await
}

// ---- Change role ----

#[derive(Template)]
#[template(path = "members/role_form.html")]
struct RoleForm<'a> {
    csrf_token: &'a str,
    member: &'a Member,
    roles: Vec<RoleChoice>,
    error: Option<String>,
    in_dialog: bool,
}

fn role_form_response(
    signed_in: &SignedIn,
    htmx: bool,
    status: StatusCode,
    member: &Member,
    checked: MemberRole,
    error: Option<String>,
) -> Response {
    let actor = signed_in.actor();
    let heading = format!("Change role for {}?", member.email);
    let roles = role_choices(Some(checked), |role| {
        policy::can_change_member_role(actor, member.role, role)
            .err()
            .map(|d| d.0)
    });
    dialog_or_page(
        htmx,
        signed_in,
        ActionFrame {
            heading: &heading,
            alert: false,
            return_focus: Some(&member.id),
            section: Section::Members,
        },
        status,
        |in_dialog| RoleForm {
            csrf_token: &signed_in.csrf_token,
            member,
            roles,
            error,
            in_dialog,
        },
    )
}

pub async fn role_page(
    State(state): State<AppState>,
    signed_in: SignedIn,
    HxRequest(htmx): HxRequest,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let member = members::get(&state.store, signed_in.caller(), &id).await?;
    policy::can_change_member_role(signed_in.actor(), member.role, member.role)?;
    Ok(role_form_response(
        &signed_in,
        htmx,
        StatusCode::OK,
        &member,
        member.role,
        None,
    ))
}

#[derive(Debug, Deserialize)]
pub struct RoleInput {
    #[serde(default)]
    role: String,
}

pub async fn role_submit(
    State(state): State<AppState>,
    signed_in: SignedIn,
    HxRequest(htmx): HxRequest,
    Path(id): Path<String>,
    WebForm(input): WebForm<RoleInput>,
) -> Result<Response, PageError> {
    let caller = signed_in.caller();
    let Ok(role) = input.role.parse::<MemberRole>() else {
        let member = members::get(&state.store, caller, &id).await?;
        let error = Some("Choose a role.".to_string());
        return Ok(role_form_response(
            &signed_in,
            htmx,
            StatusCode::UNPROCESSABLE_ENTITY,
            &member,
            member.role,
            error,
        ));
    };
    let (before, after) = match members::change_role(&state.store, caller, &id, role).await {
        Ok(changed) => changed,
        // Not allowed, or the last Owner: said on the form, which stays.
        Err(ActionError::Forbidden(message) | ActionError::Conflict(message)) => {
            let member = members::get(&state.store, caller, &id).await?;
            return Ok(role_form_response(
                &signed_in,
                htmx,
                StatusCode::UNPROCESSABLE_ENTITY,
                &member,
                role,
                Some(message),
            ));
        }
        Err(e) => return Err(e.into()),
    };
    let message = if before.role == after.role {
        format!("{} is still {}", after.email, after.role.label())
    } else {
        format!(
            "Changed {} from {} to {}",
            after.email,
            before.role.label(),
            after.role.label()
        )
    };
    if htmx {
        let summary = state
            .store
            .list_members()
            .await?
            .into_iter()
            .find(|s| s.member.id == after.id);
        let mut res = HtmxResponse::empty();
        if let Some(summary) = summary {
            let row = MemberRow::new(&summary, caller, &signed_in.member.id, state.clock.now_ms());
            res = res.with(RowFragment { row: &row });
        }
        return Ok(res
            .announce(&message)
            .trigger_after_settle(
                "latchkey:dialog-done",
                serde_json::json!({ "focus": format!("#actions-{}", after.id) }),
            )
            .into_response());
    }
    back_to_members(&signed_in, message).await
}

// ---- Remove member ----

#[derive(Template)]
#[template(path = "members/remove_form.html")]
struct RemoveForm<'a> {
    csrf_token: &'a str,
    member: &'a Member,
    tokens: i64,
    in_dialog: bool,
}

pub async fn remove_page(
    State(state): State<AppState>,
    signed_in: SignedIn,
    HxRequest(htmx): HxRequest,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let (member, tokens) = members::get_removable(&state.store, signed_in.caller(), &id).await?;
    let heading = format!("Remove {}?", member.email);
    Ok(dialog_or_page(
        htmx,
        &signed_in,
        ActionFrame {
            heading: &heading,
            alert: true,
            return_focus: Some(&member.id),
            section: Section::Members,
        },
        StatusCode::OK,
        |in_dialog| RemoveForm {
            csrf_token: &signed_in.csrf_token,
            member: &member,
            tokens,
            in_dialog,
        },
    ))
}

pub async fn remove_submit(
    State(state): State<AppState>,
    signed_in: SignedIn,
    HxRequest(htmx): HxRequest,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let (member, stopped) = members::remove(&state.store, signed_in.caller(), &id).await?;
    let message = format!(
        "Removed {}; {stopped} personal token{} stopped working",
        member.email,
        if stopped == 1 { "" } else { "s" }
    );
    if htmx {
        // app.js moves focus to a neighbour row's menu button first.
        return Ok(HtmxResponse::empty()
            .retarget(format!("#row-{}", member.id), "delete")
            .announce(&message)
            .trigger(
                "latchkey:row-deleted",
                serde_json::json!({ "id": member.id }),
            )
            .into_response());
    }
    back_to_members(&signed_in, message).await
}

/// After a change without JavaScript: back to the list, where `message` is
/// shown once.
async fn back_to_members(signed_in: &SignedIn, message: String) -> Result<Response, PageError> {
    flash::set_message(&signed_in.session, message).await?;
    Ok(Redirect::to(MEMBERS_URL).into_response())
}
