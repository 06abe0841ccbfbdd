//! Latchkey: a self-hosted admin console for an organization's API access
//! tokens. This crate builds the whole application so that `main.rs` only
//! parses the command line and tests can start the real server on port 0.

pub mod api;
pub mod clock;
pub mod config;
pub mod domain;
pub mod seed;
pub mod store;
pub mod throttle;
pub mod tokens;
pub mod usage;
pub mod web;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tower_sessions::ExpiredDeletion;
use tower_sessions_sqlx_store::SqliteStore;

use crate::config::Config;
use crate::store::Store;
use crate::throttle::FailureThrottle;
use crate::usage::UsageRecorder;

/// Shared by every request handler.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub config: Arc<Config>,
    /// Failed sign-ins per client IP and per email.
    pub sign_in_throttle: Arc<FailureThrottle>,
    /// Failed API authentications per client IP.
    pub api_auth_throttle: Arc<FailureThrottle>,
    /// API token uses waiting to be written as "last used".
    pub usage: Arc<UsageRecorder>,
    /// New secrets waiting for the page that shows them (no JavaScript).
    pub pending_secrets: Arc<web::flash::PendingSecrets>,
}

/// Five failed sign-ins a minute per client IP or per email (PRODUCT.md §7).
pub const SIGN_IN_FAILURES_PER_MINUTE: usize = 5;

/// A configured application, ready to serve.
pub struct App {
    state: AppState,
    sessions: SqliteStore,
}

impl App {
    /// Opens the database, runs migrations and prepares the session store.
    pub async fn new(config: Config) -> anyhow::Result<Self> {
        let store = Store::connect(&config.database_url).await?;
        let sessions = SqliteStore::new(store.pool().clone());
        sessions
            .migrate()
            .await
            .context("creating the session table")?;
        let api_auth_failures_per_minute = config.api_auth_failures_per_minute;
        Ok(Self {
            state: AppState {
                store,
                config: Arc::new(config),
                sign_in_throttle: Arc::new(FailureThrottle::new(
                    SIGN_IN_FAILURES_PER_MINUTE,
                    Duration::from_secs(60),
                )),
                api_auth_throttle: Arc::new(FailureThrottle::new(
                    api_auth_failures_per_minute,
                    Duration::from_secs(60),
                )),
                usage: Arc::new(UsageRecorder::default()),
                pending_secrets: Arc::default(),
            },
            sessions,
        })
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    pub fn router(&self) -> axum::Router {
        web::router(self.state.clone(), self.sessions.clone())
    }

    /// Serves until `shutdown` completes, then lets in-flight requests finish
    /// and closes the database.
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let deletion = tokio::spawn(
            self.sessions
                .clone()
                .continuously_delete_expired(Duration::from_secs(60 * 10)),
        );
        let flusher = self
            .state
            .usage
            .clone()
            .spawn_flusher(self.state.store.clone());
        let router = self.router();
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown)
        .await
        .context("serving HTTP")?;
        deletion.abort();
        flusher.abort();
        // Uses noted since the last flush are not lost at shutdown.
        self.state.usage.flush(&self.state.store).await;
        self.state.store.close().await;
        Ok(())
    }
}

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
