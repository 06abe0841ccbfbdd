//! `POST /api/v2/credentials/revoke`: anyone who finds a leaked secret (a
//! person, or a secret scanner such as GitHub's) reports it here without a
//! token, and every live one is revoked at once (`Store::revoke_leaked`
//! says what that means and why).
//!
//! The answer must not tell the reporter anything about the secrets: the
//! same 202 and body whether they were live, dead, garbage, repeated or
//! none, and about the same time. Every secret is hashed and all digests are
//! looked up with one statement, and the answer waits until
//! [`MIN_ANSWER_TIME`] has passed, which covers the deletions a report of a
//! few live tokens causes. Reports are limited per client address.

use std::collections::BTreeSet;
use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::error::{ApiError, ErrorBody};
use super::tokens::json_body;
use crate::AppState;
use crate::domain::secret;
use crate::http::ClientIp;

/// Secrets one report may hold: GitHub's secret-scanning partner programme
/// sends batches, and 1,000 secrets (about 46 KB of JSON) fit well inside
/// the 64 KiB body limit.
pub const MAX_SECRETS: usize = 1000;

/// The least time a report takes to answer, so that the time does not say
/// whether something was deleted (a deletion is a few milliseconds of
/// writing). Reports are rare and rate limited, so the wait costs nothing.
pub const MIN_ANSWER_TIME: Duration = Duration::from_millis(100);

/// What the answer says, whatever was reported.
pub const RECEIPT: &str = "Thank you. Every reported secret that was live has been revoked.";

/// A report of leaked secrets.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LeakReport {
    /// The leaked secrets themselves (`lk_pat_…`, `lk_svc_…`), at most
    /// 1,000; repeats and strings that are not secrets are allowed.
    #[schema(max_items = 1000, example = json!(["lk_pat_0000000000000000000000000000000000000"]))]
    pub secrets: Vec<String>,
}

/// The one answer to every accepted report.
#[derive(Debug, Serialize, ToSchema)]
pub struct LeakReportReceipt {
    /// Always the same text: the answer does not say what was found.
    pub message: &'static str,
}

#[utoipa::path(
    post, path = "/api/v2/credentials/revoke", tag = "credentials",
    request_body(content = LeakReport, content_type = "application/json"),
    security(()),
    responses(
        (status = 202, description = "The report was taken. Every live secret in it is revoked (its token deleted) by now; the answer is the same whatever the secrets were", body = LeakReportReceipt),
        (status = 400, description = "The body is not a report, or holds more than 1,000 secrets", body = ErrorBody),
        (status = 429, description = "Too many reports from this client; see Retry-After", body = ErrorBody),
    )
)]
pub async fn revoke(
    State(state): State<AppState>,
    ClientIp(client_ip): ClientIp,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<LeakReportReceipt>), ApiError> {
    let started = tokio::time::Instant::now();
    // Every report counts, accepted or not: nothing else limits a route
    // that needs no token.
    if let Err(wait) = state.leak_report_throttle.fail(&client_ip) {
        return Err(ApiError::rate_limited_because(wait, "Too many reports"));
    }
    let report: LeakReport = json_body(&headers, &body, &["application/json"])?;
    if report.secrets.len() > MAX_SECRETS {
        return Err(ApiError::bad_request(format!(
            "A report holds at most {MAX_SECRETS} secrets; this one holds {}. Send the rest in \
             another report",
            report.secrets.len()
        )));
    }
    // Every entry is hashed, whatever it looks like: no entry is skipped
    // faster than another. Repeats collapse here.
    let digests: BTreeSet<String> = report
        .secrets
        .iter()
        .map(|s| secret::digest(s.trim()))
        .collect();
    let digests: Vec<String> = digests.into_iter().collect();
    let revoked = state.store.revoke_leaked(&digests, &client_ip).await;
    tokio::time::sleep_until(started + MIN_ANSWER_TIME).await;
    let revoked = revoked?;
    // The count goes to the server's log only, never to the reporter.
    tracing::info!(
        reported = report.secrets.len(),
        revoked,
        "leaked-secret report"
    );
    Ok((
        StatusCode::ACCEPTED,
        Json(LeakReportReceipt { message: RECEIPT }),
    ))
}
