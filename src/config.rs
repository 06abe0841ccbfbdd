//! Runtime configuration: what `latchkey serve` was told by flags and
//! environment, with the defaults PRODUCT.md names.

use std::net::SocketAddr;

/// Everything the server needs to start.
#[derive(Debug, Clone)]
pub struct Config {
    /// Address to listen on, e.g. `127.0.0.1:8080`.
    pub listen: SocketAddr,
    /// `sqlite://path`, created when missing.
    pub database_url: String,
    /// Mark the session cookie `Secure` (serve behind HTTPS).
    pub secure_cookies: bool,
    /// Sign a member out after this long without a request.
    pub session_idle: time::Duration,
    /// Failed API authentications a client may make per minute before its
    /// further failures get 429.
    pub api_auth_failures_per_minute: usize,
    /// Leaked-secret reports (`POST /api/v2/credentials/revoke`) a client
    /// may send per minute before further ones get 429.
    pub leak_reports_per_minute: usize,
    /// Proxies whose `X-Forwarded-For` names the client (`--trusted-proxy`).
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// A request still unanswered after this gets 503.
    pub request_timeout: std::time::Duration,
    /// Requests served at once; more are answered 503 at once, not queued.
    pub max_concurrent_requests: usize,
    /// At shutdown, how long requests in flight get to finish before the
    /// server stops waiting for them (and their connections are cut).
    pub drain_timeout: std::time::Duration,
    /// How often API token uses are written as "last used".
    pub usage_flush_interval: std::time::Duration,
    /// Seed demo members into an empty database.
    pub demo: bool,
    /// The first Owner's credentials, used only when no member exists.
    pub bootstrap: Option<BootstrapOwner>,
}

#[derive(Clone)]
pub struct BootstrapOwner {
    pub email: String,
    pub password: String,
}

impl std::fmt::Debug for BootstrapOwner {
    // The password must never reach a log line, even at debug level.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BootstrapOwner")
            .field("email", &self.email)
            .field("password", &"<redacted>")
            .finish()
    }
}

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
pub const DEFAULT_DATABASE_URL: &str = "sqlite://latchkey.db";
pub const DEFAULT_SESSION_IDLE_MINUTES: u32 = 12 * 60;
/// About thirty a minute (PRODUCT.md §5).
pub const DEFAULT_API_AUTH_FAILURES_PER_MINUTE: u32 = 30;
/// Enough for a secret scanner that batches its findings (up to 1,000
/// secrets a report), few enough that the unauthenticated endpoint cannot
/// be used to hammer the database's write lock.
pub const DEFAULT_LEAK_REPORTS_PER_MINUTE: u32 = 10;
pub const DEFAULT_REQUEST_TIMEOUT_SECS: u64 = 30;
pub const DEFAULT_MAX_CONCURRENT_REQUESTS: usize = 1024;
/// Well inside the 10 s a process manager typically allows between SIGTERM
/// and SIGKILL, with room for the last "last used" writes after it.
pub const DEFAULT_DRAIN_TIMEOUT_SECS: u64 = 5;

impl Config {
    /// Defaults suitable for tests: a given database, port 0 decided by the
    /// caller's listener, no demo data.
    pub fn for_database(database_url: impl Into<String>) -> Self {
        Self {
            listen: DEFAULT_LISTEN
                .parse()
                .expect("default listen address parses"),
            database_url: database_url.into(),
            secure_cookies: false,
            session_idle: time::Duration::minutes(i64::from(DEFAULT_SESSION_IDLE_MINUTES)),
            api_auth_failures_per_minute: DEFAULT_API_AUTH_FAILURES_PER_MINUTE as usize,
            leak_reports_per_minute: DEFAULT_LEAK_REPORTS_PER_MINUTE as usize,
            trusted_proxies: Vec::new(),
            request_timeout: std::time::Duration::from_secs(DEFAULT_REQUEST_TIMEOUT_SECS),
            max_concurrent_requests: DEFAULT_MAX_CONCURRENT_REQUESTS,
            drain_timeout: std::time::Duration::from_secs(DEFAULT_DRAIN_TIMEOUT_SECS),
            usage_flush_interval: crate::usage::FLUSH_INTERVAL,
            demo: false,
            bootstrap: None,
        }
    }
}
