//! Latchkey: a self-hosted admin console for an organization's API access
//! tokens. This crate builds the whole application so that `main.rs` only
//! parses the command line and tests can start the real server on port 0.

pub mod action;
pub mod api;
pub mod clock;
pub mod config;
pub mod domain;
pub mod http;
pub mod members;
pub mod seed;
pub mod store;
pub mod throttle;
pub mod tokens;
pub mod usage;
pub mod web;

use std::future::{Future, IntoFuture};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::serve::ListenerExt;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;

use crate::clock::Clock;
use crate::config::Config;
use crate::store::Store;
use crate::store::sessions::Sessions;
use crate::throttle::FailureThrottle;
use crate::usage::UsageRecorder;

/// Shared by every request handler.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub config: Arc<Config>,
    /// The one clock every part reads the time from (tests move it).
    pub clock: Clock,
    /// Failed sign-ins per client IP and per email.
    pub sign_in_throttle: Arc<FailureThrottle>,
    /// Failed API authentications per client IP.
    pub api_auth_throttle: Arc<FailureThrottle>,
    /// Leaked-secret reports per client IP: every report counts, not only
    /// failures (the endpoint needs no token, so nothing else limits it).
    pub leak_report_throttle: Arc<FailureThrottle>,
    /// How many refusals (CSRF, throttled sign-ins) each client has had
    /// audited this minute: an attacker must not be able to fill the log.
    pub audit_noise: Arc<FailureThrottle>,
    /// API token uses waiting to be written as "last used".
    pub usage: Arc<UsageRecorder>,
    /// New secrets waiting for the page that shows them (no JavaScript).
    pub pending_secrets: Arc<web::flash::PendingSecrets>,
}

/// Five failed sign-ins a minute per client IP or per email (PRODUCT.md §7).
pub const SIGN_IN_FAILURES_PER_MINUTE: usize = 5;

/// Refusals of one kind audited per client per minute; the rest are only
/// go to the server log only.
pub const AUDITED_REFUSALS_PER_MINUTE: usize = 3;

impl AppState {
    /// Audits a refusal (CSRF, a throttled sign-in) from `client`, unless
    /// that client already had [`AUDITED_REFUSALS_PER_MINUTE`] of this kind
    /// audited this minute. A failure to record is logged, not passed on:
    /// the request is refused either way.
    pub async fn audit_sparingly(&self, client: &str, event: &store::NewAuditEvent<'_>) {
        let key = format!("{}:{client}", event.action.as_str());
        if self.audit_noise.fail(&key).is_err() {
            return;
        }
        if let Err(e) = self.store.record_audit(event).await {
            tracing::warn!(error = %e, action = event.action.as_str(), "auditing a refusal failed");
        }
    }
}

/// A configured application, ready to serve.
pub struct App {
    state: AppState,
    sessions: Sessions,
}

impl App {
    /// Opens the database (running its migrations) and prepares the
    /// session store.
    pub async fn new(config: Config) -> anyhow::Result<Self> {
        let clock = Clock::system();
        let store = Store::connect(&config.database_url, clock.clone()).await?;
        store.claim_serving().await?;
        let sessions = store.sessions();
        let api_auth_failures_per_minute = config.api_auth_failures_per_minute;
        let leak_reports_per_minute = config.leak_reports_per_minute;
        Ok(Self {
            state: AppState {
                store,
                config: Arc::new(config),
                sign_in_throttle: Arc::new(FailureThrottle::new(
                    SIGN_IN_FAILURES_PER_MINUTE,
                    Duration::from_secs(60),
                    clock.clone(),
                )),
                api_auth_throttle: Arc::new(FailureThrottle::new(
                    api_auth_failures_per_minute,
                    Duration::from_secs(60),
                    clock.clone(),
                )),
                leak_report_throttle: Arc::new(FailureThrottle::new(
                    leak_reports_per_minute,
                    Duration::from_secs(60),
                    clock.clone(),
                )),
                audit_noise: Arc::new(FailureThrottle::new(
                    AUDITED_REFUSALS_PER_MINUTE,
                    Duration::from_secs(60),
                    clock.clone(),
                )),
                usage: Arc::new(UsageRecorder::default()),
                pending_secrets: Arc::new(web::flash::PendingSecrets::new(clock.clone())),
                clock,
            },
            sessions,
        })
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// The two front doors side by side, and what every response passes
    /// through, outermost first: a tracing span, compression, the security
    /// headers, the panic catcher.
    pub fn router(&self) -> axum::Router {
        axum::Router::new()
            .merge(api::router())
            .merge(web::router(&self.state, self.sessions.clone()))
            // Inside the headers layer, so even a panic's page carries them.
            .layer(CatchPanicLayer::custom(web::error::panic_response))
            .layer(axum::middleware::from_fn_with_state(
                Arc::new(self.state.config.trusted_proxies.clone()),
                http::client_ip::resolve,
            ))
            .layer(axum::middleware::from_fn(http::limits::refuse_oversized_heads))
            // Overload and slowness answer 503 with Retry-After instead of
            // queueing without bound. The limit is global (one semaphore for
            // every route), and outside the timeout so a shed request costs
            // nothing.
            .layer(
                tower::ServiceBuilder::new()
                    .layer(axum::error_handling::HandleErrorLayer::new(http::limits::overloaded))
                    .load_shed()
                    .layer(tower::limit::GlobalConcurrencyLimitLayer::new(
                        self.state.config.max_concurrent_requests,
                    ))
                    .timeout(self.state.config.request_timeout),
            )
            .layer(axum::middleware::from_fn_with_state(
                self.state.config.secure_cookies,
                http::security::headers,
            ))
            .layer(axum::middleware::from_fn(http::compression::compress_responses))
            .layer(
                TraceLayer::new_for_http()
                    // Path only: query strings may carry search terms, and
                    // nothing secret is ever allowed into a URL anyway.
                    .make_span_with(|req: &axum::http::Request<_>| {
                        tracing::info_span!("request", method = %req.method(), path = %req.uri().path())
                    })
                    .on_response(DefaultOnResponse::new().level(Level::INFO)),
            )
            .with_state(self.state.clone())
    }

    /// Serves until `shutdown` completes, then lets in-flight requests finish
    /// (for up to `Config::drain_timeout`), writes the pending "last used"
    /// times and closes the database.
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        self.state.store.every(
            Duration::from_secs(60 * 10),
            "deleting expired sessions",
            |store| async move { store.sessions().delete_expired().await.map(|_| ()) },
        );
        let flusher = self.state.usage.clone().spawn_flusher(
            self.state.store.clone(),
            self.state.config.usage_flush_interval,
        );
        let router = self.router();
        let listener = http::drain::CountingListener::new(listener);
        let open = listener.open_connections();
        let (began, shutting_down) = tokio::sync::oneshot::channel::<()>();
        let shutdown = async move {
            shutdown.await;
            let _ = began.send(());
        };
        // `tap_io` does nothing to a connection: axum gives handlers the
        // client's address (`ConnectInfo<SocketAddr>`) for a listener behind
        // it, where for our own listener alone that would take an impl the
        // orphan rules forbid.
        let served = axum::serve(
            listener.tap_io(|_| {}),
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown)
        .into_future();
        let drain = self.state.config.drain_timeout;
        let deadline = async move {
            if shutting_down.await.is_err() {
                // The server stopped by itself; `served` says why.
                std::future::pending::<()>().await;
            }
            tokio::time::sleep(drain).await;
        };
        tokio::select! {
            result = served => result.context("serving HTTP")?,
            () = deadline => {
                // Whatever is still open is a request that did not finish in
                // time, or a client that holds its connection: stop waiting,
                // so the uses below are written before a process manager
                // loses patience and kills us. The connections close as the
                // process exits.
                tracing::warn!(
                    connections = open.load(std::sync::atomic::Ordering::SeqCst),
                    "shutting down: cut the connections still open after {} s",
                    drain.as_secs_f32()
                );
            }
        }
        flusher.abort();
        // Uses noted since the last flush are not lost at shutdown, unless
        // the database cannot take them now (bounded, like the drain).
        let usage = &self.state.usage;
        if tokio::time::timeout(FINAL_WRITES, usage.flush(&self.state.store))
            .await
            .is_err()
            || usage.pending() > 0
        {
            tracing::warn!(
                uses = usage.pending(),
                "shutting down: the last token uses could not be recorded"
            );
        }
        if tokio::time::timeout(FINAL_WRITES, self.state.store.close())
            .await
            .is_err()
        {
            // Requests that were cut still hold connections; what they
            // committed is durable in the database (on SQLite, its
            // write-ahead log) all the same.
            tracing::warn!("shutting down: closing the database took too long; exiting anyway");
        }
        tracing::info!("shut down");
        Ok(())
    }
}

/// At shutdown, how long the last writes and closing the database may take
/// each, so that a database that stopped answering cannot hold the process.
const FINAL_WRITES: Duration = Duration::from_secs(2);

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "listening for Ctrl-C failed");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut sig) => {
                sig.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "listening for SIGTERM failed");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing in-flight requests");
}
