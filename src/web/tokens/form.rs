//! The create and edit form: its state (values, choices, errors), reading a
//! submission, and rendering it as a page or as dialog content.

use askama::Template;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use super::action_frame;
use crate::domain::ValidationError;
use crate::domain::org_policy::TokenPolicy;
use crate::domain::policy::{self, Actor, TokenFacts};
use crate::domain::token::{
    API_VERSIONS, DEFAULT_API_VERSION, TokenKind, TokenRole, validate_api_version,
};
use crate::store::Token;
use crate::web::format;
use crate::web::htmx::dialog_or_page;
use crate::web::session::SignedIn;

/// A role radio button.
pub struct RoleChoice {
    pub value: &'static str,
    pub label: &'static str,
    pub summary: &'static str,
    pub checked: bool,
    /// Why it cannot be chosen, shown next to it.
    pub unavailable: Option<String>,
}

/// Per-field error messages.
#[derive(Debug, Default)]
pub struct FieldErrors {
    pub name: Option<String>,
    pub description: Option<String>,
    pub role: Option<String>,
    pub api_version: Option<String>,
    pub expires: Option<String>,
    /// Errors not tied to a field (shown above the form).
    pub form: Option<String>,
}

impl FieldErrors {
    pub fn add(&mut self, e: ValidationError) {
        let slot = match e.field {
            "name" => &mut self.name,
            "description" => &mut self.description,
            "role" => &mut self.role,
            "api_version" => &mut self.api_version,
            "expires" | "expires_at" => &mut self.expires,
            _ => &mut self.form,
        };
        if slot.is_none() {
            *slot = Some(e.message);
        }
    }

    /// The id of the first invalid field, which gets focus.
    pub fn first_invalid(&self) -> &'static str {
        if self.form.is_some() {
            "token-form-error"
        } else if self.name.is_some() {
            "token-name"
        } else if self.description.is_some() {
            "token-description"
        } else if self.role.is_some() {
            "token-role-reader"
        } else if self.api_version.is_some() {
            "token-api-version"
        } else if self.expires.is_some() {
            "token-expires"
        } else {
            ""
        }
    }
}

/// Everything the form template needs.
pub struct TokenForm {
    /// `None` when creating.
    pub token_id: Option<String>,
    pub action: String,
    pub heading: &'static str,
    pub submit_label: &'static str,
    pub name: String,
    pub description: String,
    pub roles: Vec<RoleChoice>,
    /// Why the role cannot change (service tokens), shown above the choices.
    pub role_fixed: Option<&'static str>,
    pub offer_service: bool,
    pub service: bool,
    pub api_version: i64,
    pub expires: String,
    /// The organization's maximum lifetime ("90 days"), if it has one.
    pub expiry_limit: Option<String>,
    /// The latest expiry that limit allows now, for the input's `max` and
    /// the hint.
    pub latest_expiry: Option<(String, String)>,
    pub errors: FieldErrors,
    pub csrf_token: String,
    /// The token's version when the edit form was shown: saving over a newer
    /// change is refused instead of silently overwriting it.
    pub version: Option<i64>,
}

impl TokenForm {
    /// The role radios, each unavailable as the rules say (`token` is the
    /// one being edited).
    fn role_choices(
        actor: Actor<'_>,
        token: Option<TokenFacts<'_>>,
        selected: TokenRole,
    ) -> Vec<RoleChoice> {
        TokenRole::ALL
            .into_iter()
            .map(|role| RoleChoice {
                value: role.as_str(),
                label: role.label(),
                summary: role.summary(),
                checked: role == selected,
                unavailable: policy::role_choice_unavailable(actor, token, role),
            })
            .collect()
    }

    /// An empty create form: Reader, the newest API version, and no
    /// expiry, or under a token policy the latest it allows (a default that
    /// passes, and the closest to "never" the organization accepts).
    pub fn for_create(
        actor: Actor<'_>,
        csrf_token: &str,
        policy: TokenPolicy,
        now_ms: i64,
    ) -> Self {
        let mut form = TokenForm {
            token_id: None,
            action: "/settings/authorization/tokens".to_string(),
            heading: "Create an access token",
            submit_label: "Save token",
            name: String::new(),
            description: String::new(),
            roles: Self::role_choices(actor, None, TokenRole::Reader),
            role_fixed: None,
            offer_service: policy::can_create_kind(actor, TokenKind::Service).is_ok(),
            service: false,
            api_version: DEFAULT_API_VERSION,
            expires: String::new(),
            expiry_limit: None,
            latest_expiry: None,
            errors: FieldErrors::default(),
            csrf_token: csrf_token.to_string(),
            version: None,
        }
        .under(policy, now_ms);
        if let Some((latest, _)) = &form.latest_expiry {
            form.expires = latest.clone();
        }
        form
    }

    /// Says the token policy's limit, if there is one.
    fn under(mut self, policy: TokenPolicy, now_ms: i64) -> Self {
        self.expiry_limit = policy.max_lifetime_days.map(|_| policy.label());
        // To the minute, rounded down (the input's precision): still within
        // the limit when the form comes back later.
        self.latest_expiry = policy.latest_expiry(now_ms).map(|ms| {
            let ms = ms - ms.rem_euclid(60_000);
            (format::datetime_local(ms), crate::clock::format_utc(ms))
        });
        self
    }

    /// The edit form, filled with the token's current values.
    pub fn for_edit(
        actor: Actor<'_>,
        token: &Token,
        csrf_token: &str,
        policy: TokenPolicy,
        now_ms: i64,
    ) -> Self {
        let role_fixed = policy::role_fixed(token.facts());
        TokenForm {
            token_id: Some(token.id.clone()),
            action: format!("/settings/authorization/tokens/{}/edit", token.id),
            heading: "Edit token",
            submit_label: "Save changes",
            name: token.name.clone(),
            description: token.description.clone(),
            roles: Self::role_choices(actor, Some(token.facts()), token.role),
            role_fixed,
            offer_service: false,
            service: token.kind == TokenKind::Service,
            api_version: token.api_version,
            expires: token
                .expires_at
                .map(format::datetime_local)
                .unwrap_or_default(),
            expiry_limit: None,
            latest_expiry: None,
            errors: FieldErrors::default(),
            csrf_token: csrf_token.to_string(),
            version: Some(token.version),
        }
        .under(policy, now_ms)
    }

    /// The form again after a refused submission: what was typed (so
    /// nothing is lost) and why it was refused.
    pub fn resubmitted(mut self, submitted: &TokenFormInput, errors: FieldErrors) -> Self {
        self.refill(submitted);
        self.errors = errors;
        self
    }

    /// Puts the submitted values back.
    fn refill(&mut self, submitted: &TokenFormInput) {
        self.name = submitted.name.clone();
        self.description = submitted.description.clone();
        if self.role_fixed.is_none() {
            for choice in &mut self.roles {
                choice.checked = choice.value == submitted.role;
            }
        }
        self.service = self.role_fixed.is_some() || submitted.service.is_some();
        if let Ok(v) = submitted.api_version.trim().parse() {
            self.api_version = v;
        }
        self.expires = submitted.expires.clone();
    }

    pub fn api_versions(&self) -> Vec<(i64, bool)> {
        API_VERSIONS
            .iter()
            .map(|v| (*v, *v == self.api_version))
            .collect()
    }

    pub fn first_invalid(&self) -> &'static str {
        self.errors.first_invalid()
    }

    /// The form with `status`: the dialog's content for htmx, a page of its
    /// own otherwise.
    pub fn respond(self, signed_in: &SignedIn, htmx: bool, status: StatusCode) -> Response {
        dialog_or_page(
            htmx,
            signed_in,
            action_frame(self.heading, false, self.token_id.as_deref()),
            status,
            |in_dialog| TokenFormBody {
                form: &self,
                in_dialog,
            },
        )
    }
}

/// The form as submitted. Every field is text so that nothing a browser (or
/// anyone else) sends makes the form unreadable; parsing happens below.
#[derive(Debug, Default, Deserialize)]
pub struct TokenFormInput {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub role: String,
    #[serde(default)]
    pub service: Option<String>,
    #[serde(default)]
    pub api_version: String,
    #[serde(default)]
    pub expires: String,
    /// Edit only: the version the form was shown at.
    #[serde(default)]
    pub version: String,
}

/// Typed values from a submission, or the errors of the fields that could
/// not be read. `default_role` fills in a role the form did not send
/// (disabled radios are not submitted).
pub struct ParsedInput {
    pub role: TokenRole,
    pub api_version: i64,
    pub expires_at: Option<i64>,
}

pub fn parse_input(
    input: &TokenFormInput,
    default_role: Option<TokenRole>,
    errors: &mut FieldErrors,
) -> Option<ParsedInput> {
    let role = match (input.role.trim(), default_role) {
        ("", Some(role)) => Some(role),
        (raw, _) => raw.parse::<TokenRole>().map_err(|e| errors.add(e)).ok(),
    };
    let api_version = match input.api_version.trim() {
        "" => Some(DEFAULT_API_VERSION),
        raw => raw
            .parse::<i64>()
            .ok()
            .and_then(|v| validate_api_version(v).ok())
            .or_else(|| {
                errors.add(ValidationError::new(
                    "api_version",
                    "Choose an API version: 20240415, 20220603 or 20210729",
                ));
                None
            }),
    };
    let expires_at = match input.expires.trim() {
        "" => Some(None),
        raw => match format::parse_datetime_local(raw) {
            Some(ms) => Some(Some(ms)),
            None => {
                errors.add(ValidationError::new(
                    "expires",
                    "Enter a date and time like 2027-01-31 17:00, or leave it empty",
                ));
                None
            }
        },
    };
    Some(ParsedInput {
        role: role?,
        api_version: api_version?,
        expires_at: expires_at?,
    })
}

/// The form itself, in a dialog or on a page.
#[derive(Template)]
#[template(path = "tokens/form.html")]
struct TokenFormBody<'a> {
    form: &'a TokenForm,
    in_dialog: bool,
}

#[cfg(test)]
mod tests {
    //! Property tests: the form as any client may send it. `make fuzz` runs
    //! them with PROPTEST_CASES=100000.

    use axum::extract::FromRequest;
    use axum::response::IntoResponse;
    use proptest::prelude::*;

    use super::*;
    use crate::web::form::WebForm;

    fn field() -> impl Strategy<Value = String> {
        prop_oneof![
            any::<String>(),
            "[ ]{0,2}(reader|Writer|ADMIN|owner|20240415|20220603|1|-1)[ ]{0,2}",
            "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(:[0-9]{2})?",
            Just(String::new()),
        ]
    }

    fn input() -> impl Strategy<Value = TokenFormInput> {
        (field(), field(), field(), field(), field()).prop_map(
            |(name, role, api_version, expires, version)| TokenFormInput {
                name,
                role,
                api_version,
                expires,
                version,
                ..TokenFormInput::default()
            },
        )
    }

    fn default_role() -> impl Strategy<Value = Option<TokenRole>> {
        prop::option::of(prop_oneof![
            Just(TokenRole::Reader),
            Just(TokenRole::Writer),
            Just(TokenRole::Admin),
        ])
    }

    proptest! {
        /// Any submission parses, or names at least one field to fix; none
        /// panics, and what parses is valid.
        #[test]
        fn any_submission_parses_or_names_what_to_fix(
            input in input(),
            default_role in default_role(),
        ) {
            let mut errors = FieldErrors::default();
            match parse_input(&input, default_role, &mut errors) {
                Some(parsed) => {
                    prop_assert!(errors.first_invalid().is_empty(), "{errors:?}");
                    prop_assert!(API_VERSIONS.contains(&parsed.api_version));
                    if input.role.trim().is_empty() {
                        prop_assert_eq!(Some(parsed.role), default_role);
                    } else {
                        prop_assert_eq!(parsed.role.as_str(), input.role.trim().to_ascii_lowercase());
                    }
                }
                None => prop_assert!(!errors.first_invalid().is_empty()),
            }
        }

        /// The expiry the form shows is the expiry it reads back (to the
        /// minute, the input's precision).
        #[test]
        fn expiry_round_trips_through_the_form(minutes in 0i64..(8_000 * 525_960)) {
            let ms = minutes * 60_000;
            let input = TokenFormInput {
                expires: format::datetime_local(ms),
                ..TokenFormInput::default()
            };
            let mut errors = FieldErrors::default();
            let parsed = parse_input(&input, Some(TokenRole::Reader), &mut errors);
            prop_assert_eq!(parsed.map(|p| p.expires_at), Some(Some(ms)), "{:?}", input.expires);
        }

        /// Any urlencoded body decodes into the form (every field is text)
        /// or is refused with a 4xx page; never a panic or a 500.
        #[test]
        fn any_body_decodes_or_is_refused_with_a_4xx(
            body in prop_oneof![
                prop::collection::vec(any::<u8>(), 0..96),
                "((name|role|service|expires|version|api_version|x)(=[a-z0-9%+&=\u{e9}]{0,12})?&?){0,6}"
                    .prop_map(String::into_bytes),
            ],
        ) {
            let rt = tokio::runtime::Builder::new_current_thread().build().expect("a runtime");
            let request = axum::http::Request::post("/settings/authorization/tokens")
                .header("content-type", "application/x-www-form-urlencoded")
                .body(axum::body::Body::from(body))
                .expect("a request");
            match rt.block_on(WebForm::<TokenFormInput>::from_request(request, &())) {
                Ok(WebForm(input)) => {
                    let mut errors = FieldErrors::default();
                    let _ = parse_input(&input, None, &mut errors);
                }
                Err(refused) => {
                    let status = refused.into_response().status();
                    prop_assert!(status.is_client_error(), "{status}");
                }
            }
        }
    }
}
