//! Responses for htmx requests: the main fragment plus out-of-band pieces
//! (the status message, rows), the headers that steer htmx and app.js, the
//! one "dialog with htmx, page without" responder, and the layer that shows
//! errors inside the dialog.
//!
//! Every token action targets `#dialog-content`; app.js opens the dialog when
//! content arrives there and manages focus from the events named here.

use askama::Template;
use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use axum_htmx::HX_REQUEST;

use super::error::{ErrorDialog, PageError};
use super::layout::Section;
use super::session::SignedIn;

/// Replaces the *contents* of the persistent `role="status"` region, so
/// screen readers announce the change.
#[derive(Template)]
#[template(
    source = r#"<div id="status" hx-swap-oob="innerHTML">{{ message }}</div>"#,
    ext = "html"
)]
struct StatusOob<'a> {
    message: &'a str,
}

/// A message inside the dialog, with a way out: what htmx requests get when
/// an action is refused or fails (framed like every dialog).
#[derive(Template)]
#[template(path = "partials/dialog_message.html")]
struct DialogMessage<'a> {
    message: &'a str,
}

/// An htmx answer. A fragment that fails to render makes the whole answer
/// the 500 error, never an empty 200.
pub struct HtmxResponse {
    status: StatusCode,
    body: Result<String, askama::Error>,
    headers: Vec<(&'static str, String)>,
}

impl HtmxResponse {
    pub fn new(main: impl Template) -> Self {
        Self {
            status: StatusCode::OK,
            body: main.render(),
            headers: Vec::new(),
        }
    }

    pub fn empty() -> Self {
        Self {
            status: StatusCode::OK,
            body: Ok(String::new()),
            headers: Vec::new(),
        }
    }

    pub fn status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }

    /// Adds an out-of-band fragment after the main content.
    pub fn with(mut self, fragment: impl Template) -> Self {
        if let Ok(body) = &mut self.body {
            match fragment.render() {
                Ok(html) => body.push_str(&html),
                Err(e) => self.body = Err(e),
            }
        }
        self
    }

    pub fn announce(self, message: &str) -> Self {
        self.with(StatusOob { message })
    }

    /// Swaps the main content somewhere other than the request's target.
    pub fn retarget(mut self, selector: impl Into<String>, swap: &str) -> Self {
        self.headers.push(("hx-retarget", selector.into()));
        self.headers.push(("hx-reswap", swap.to_string()));
        self
    }

    /// Any other htmx response header (`hx-redirect`, …).
    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    /// Fires a client event once the response arrives (before swapping).
    pub fn trigger(mut self, name: &str, detail: serde_json::Value) -> Self {
        self.headers.push((
            "hx-trigger",
            serde_json::json!({ name: detail }).to_string(),
        ));
        self
    }

    /// Fires a client event after the swap has settled.
    pub fn trigger_after_settle(mut self, name: &str, detail: serde_json::Value) -> Self {
        self.headers.push((
            "hx-trigger-after-settle",
            serde_json::json!({ name: detail }).to_string(),
        ));
        self
    }
}

impl IntoResponse for HtmxResponse {
    fn into_response(self) -> Response {
        let body = match self.body {
            Ok(body) => body,
            Err(e) => {
                return PageError::Internal(anyhow::Error::new(e).context("rendering a fragment"))
                    .into_response();
            }
        };
        let mut res = (self.status, Html(body)).into_response();
        for (name, value) in self.headers {
            if let Ok(value) = HeaderValue::from_str(&value) {
                res.headers_mut()
                    .insert(HeaderName::from_static(name), value);
            }
        }
        res
    }
}

/// For htmx requests, replaces an error page (any response that carries an
/// `ErrorDialog`) with the same words inside the dialog, keeping its status.
/// Without htmx, or if the dialog cannot be rendered, the page stands.
pub async fn errors_as_dialogs(req: Request, next: Next) -> Response {
    let htmx = req.headers().contains_key(HX_REQUEST);
    let res = next.run(req).await;
    if !htmx {
        return res;
    }
    let Some(dialog) = res.extensions().get::<ErrorDialog>().cloned() else {
        return res;
    };
    let message = DialogMessage {
        message: &dialog.message,
    };
    let framed = message.render().and_then(|body| {
        DialogFrame {
            heading: &dialog.title,
            role: "alertdialog",
            return_focus: None,
            body: &body,
        }
        .render()
    });
    match framed {
        Ok(html) => {
            let mut dialog_res = HtmxResponse {
                status: res.status(),
                body: Ok(html),
                headers: Vec::new(),
            }
            .retarget("#dialog-content", "innerHTML")
            .into_response();
            // Keep what the error itself said about retrying (Retry-After).
            for (name, value) in res.headers() {
                if name != axum::http::header::CONTENT_TYPE
                    && name != axum::http::header::CONTENT_LENGTH
                {
                    dialog_res
                        .headers_mut()
                        .entry(name)
                        .or_insert(value.clone());
                }
            }
            dialog_res
        }
        Err(e) => {
            tracing::error!(error = %e, "rendering the error dialog");
            res
        }
    }
}

/// How an action's form or confirmation is framed.
pub struct ActionFrame<'a> {
    pub heading: &'a str,
    /// `alertdialog` for a destructive confirmation, else `dialog`.
    pub alert: bool,
    /// The token whose Actions button gets focus back when the dialog
    /// closes.
    pub return_focus: Option<&'a str>,
    /// The settings section the page belongs to (breadcrumb and nav).
    pub section: Section,
}

/// The dialog around an action's body (htmx).
#[derive(Template)]
#[template(path = "partials/dialog.html")]
struct DialogFrame<'a> {
    heading: &'a str,
    role: &'a str,
    return_focus: Option<&'a str>,
    body: &'a str,
}

/// An action's body as a page of its own (no JavaScript).
#[derive(Template)]
#[template(path = "action_page.html")]
struct ActionPage<'a> {
    layout: super::layout::Layout,
    heading: &'a str,
    body: &'a str,
}

/// The one answer for an action's form or confirmation: with htmx, the
/// dialog's content (opened by app.js); without, a page of its own. `body`
/// renders the part both share, told whether it sits in a dialog.
pub fn dialog_or_page<T: Template>(
    htmx: bool,
    signed_in: &SignedIn,
    frame: ActionFrame<'_>,
    status: StatusCode,
    body: impl FnOnce(bool) -> T,
) -> Response {
    let rendered = body(htmx).render().and_then(|body| {
        if htmx {
            DialogFrame {
                heading: frame.heading,
                role: if frame.alert { "alertdialog" } else { "dialog" },
                return_focus: frame.return_focus,
                body: &body,
            }
            .render()
        } else {
            ActionPage {
                layout: signed_in.layout(frame.heading, frame.section),
                heading: frame.heading,
                body: &body,
            }
            .render()
        }
    });
    match rendered {
        Ok(html) if htmx => HtmxResponse {
            status,
            body: Ok(html),
            headers: Vec::new(),
        }
        .retarget("#dialog-content", "innerHTML")
        .into_response(),
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => PageError::Internal(anyhow::Error::new(e).context("rendering an action"))
            .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use std::fmt;

    use axum::Router;
    use axum::body::Body;
    use axum::routing::get;
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    use super::*;

    /// A value whose `Display` fails, so the template around it does too.
    struct Broken;

    impl fmt::Display for Broken {
        fn fmt(&self, _: &mut fmt::Formatter<'_>) -> fmt::Result {
            Err(fmt::Error)
        }
    }

    #[derive(Template)]
    #[template(source = "<p>{{ value }}</p>", ext = "html")]
    struct Fragment<T: fmt::Display> {
        value: T,
    }

    async fn body_text(res: Response) -> String {
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[tokio::test]
    async fn a_fragment_that_fails_to_render_is_a_500_page() {
        for res in [
            HtmxResponse::new(Fragment { value: Broken }).into_response(),
            HtmxResponse::new(Fragment { value: "fine" })
                .with(Fragment { value: Broken })
                .into_response(),
        ] {
            assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
            let body = body_text(res).await;
            assert!(body.contains("Something went wrong on our side"), "{body}");
        }
        let fine = HtmxResponse::new(Fragment { value: "fine" }).into_response();
        assert_eq!(fine.status(), StatusCode::OK);
        assert_eq!(body_text(fine).await, "<p>fine</p>");
    }

    fn app() -> Router {
        Router::new()
            .route(
                "/refused",
                get(|| async { Err::<(), _>(PageError::Forbidden("Not yours.".into())) }),
            )
            .route("/fine", get(|| async { "fine" }))
            .layer(axum::middleware::from_fn(errors_as_dialogs))
    }

    async fn call(path: &str, htmx: bool) -> Response {
        let mut req = Request::builder().uri(path);
        if htmx {
            req = req.header("hx-request", "true");
        }
        app()
            .oneshot(req.body(Body::empty()).unwrap())
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn errors_are_dialogs_for_htmx_and_pages_otherwise() {
        let res = call("/refused", true).await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN);
        assert_eq!(res.headers()["hx-retarget"], "#dialog-content");
        let body = body_text(res).await;
        assert!(
            body.contains("Not allowed") && body.contains("Not yours."),
            "{body}"
        );
        assert!(!body.contains("<html"), "a fragment, not a page: {body}");

        let res = call("/refused", false).await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN);
        let body = body_text(res).await;
        assert!(body.contains("<html") && body.contains("You do not have access"));
        assert!(body.contains("Not yours."));

        let res = call("/fine", true).await;
        assert_eq!(body_text(res).await, "fine");
    }
}
