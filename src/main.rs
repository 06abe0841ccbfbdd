//! The `latchkey` command line: parse, build the configuration, call the
//! library.

use std::io::{IsTerminal, Read, Write};
use std::net::SocketAddr;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use latchkey::clock::Clock;
use latchkey::config::{
    BootstrapOwner, Config, DEFAULT_API_AUTH_FAILURES_PER_MINUTE, DEFAULT_DATABASE_URL,
    DEFAULT_LISTEN, DEFAULT_SESSION_IDLE_MINUTES,
};
use latchkey::domain::MemberRole;
use latchkey::domain::email::normalize_email;
use latchkey::domain::password::{hash_password, validate_new_password};
use latchkey::store::{Store, StoreError, Told};
use latchkey::{App, seed};
use tracing_subscriber::EnvFilter;

/// mimalloc rather than the system allocator: a page allocates many small
/// strings from several threads at once, where glibc's malloc spent a
/// quarter of the server's time (measured with perf under `make bench`).
/// Version 2 and no transparent huge pages: v3, and v2 asking the kernel
/// for huge pages, each held 25–30 MiB more resident memory at 10,000 tokens
/// for no measurable speed (MIMALLOC_ALLOW_THP=0 showed it).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "latchkey",
    version,
    about = "Admin console and REST API for an organization's API access tokens"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start the web console and API.
    Serve(ServeArgs),
    /// Manage members from the command line.
    Member {
        #[command(subcommand)]
        command: MemberCommand,
    },
    /// Development helpers; not for production databases.
    #[command(hide = true)]
    Dev {
        #[command(subcommand)]
        command: DevCommand,
    },
}

#[derive(Subcommand)]
enum DevCommand {
    /// Add COUNT tokens for benchmarks and print an Admin service token secret.
    SeedTokens {
        #[command(flatten)]
        database: DatabaseArgs,
        #[arg(long, default_value_t = 10_000)]
        count: usize,
        /// Make the printed Admin token a personal one (owned by the Owner)
        /// rather than a service token.
        #[arg(long)]
        personal: bool,
        /// The password of the Owner the tokens belong to
        /// (bench@localhost), so a benchmark can sign in as them.
        #[arg(long, env = "LATCHKEY_BENCH_PASSWORD", hide_env_values = true)]
        owner_password: Option<String>,
    },
}

#[derive(Args)]
struct DatabaseArgs {
    /// Database URL; a SQLite file is created when missing.
    #[arg(long = "database", env = "DATABASE_URL", default_value = DEFAULT_DATABASE_URL)]
    url: String,
}

#[derive(Args)]
struct ServeArgs {
    /// Address and port to listen on.
    #[arg(long, env = "LATCHKEY_LISTEN", default_value = DEFAULT_LISTEN)]
    listen: SocketAddr,
    #[command(flatten)]
    database: DatabaseArgs,
    /// Seed an empty database with one demo member per role (passwords are
    /// printed once).
    #[arg(long)]
    demo: bool,
    /// Serve over HTTPS (directly or behind a TLS proxy): the session cookie
    /// becomes `__Host-latchkey_session` with `Secure`, and HSTS is sent.
    #[arg(long, env = "LATCHKEY_SECURE_COOKIES")]
    secure_cookies: bool,
    /// Sign members out after this many minutes without a request.
    #[arg(long, env = "LATCHKEY_SESSION_IDLE_MINUTES", default_value_t = DEFAULT_SESSION_IDLE_MINUTES,
          value_parser = clap::value_parser!(u32).range(1..=525_600))]
    session_idle_minutes: u32,
    /// Failed API authentications a client may make per minute before its
    /// further failures get 429.
    #[arg(long, env = "LATCHKEY_API_AUTH_FAILURES_PER_MINUTE", default_value_t = DEFAULT_API_AUTH_FAILURES_PER_MINUTE,
          value_parser = clap::value_parser!(u32).range(1..))]
    api_auth_failures_per_minute: u32,
    /// Leaked-secret reports (POST /api/v2/credentials/revoke) a client may
    /// send per minute before further ones get 429.
    #[arg(long, env = "LATCHKEY_LEAK_REPORTS_PER_MINUTE", default_value_t = latchkey::config::DEFAULT_LEAK_REPORTS_PER_MINUTE,
          value_parser = clap::value_parser!(u32).range(1..))]
    leak_reports_per_minute: u32,
    /// A reverse proxy (address or CIDR) whose X-Forwarded-For header names
    /// the client; repeat for several. Without it the header is ignored.
    #[arg(long = "trusted-proxy", env = "LATCHKEY_TRUSTED_PROXIES", value_delimiter = ',',
          value_parser = parse_proxy)]
    trusted_proxies: Vec<ipnet::IpNet>,
    /// Answer 503 to a request still unanswered after this many seconds.
    #[arg(long, env = "LATCHKEY_REQUEST_TIMEOUT_SECONDS", default_value_t = latchkey::config::DEFAULT_REQUEST_TIMEOUT_SECS,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    request_timeout_seconds: u64,
    /// Requests served at once; beyond this, 503 with Retry-After at once.
    #[arg(long, env = "LATCHKEY_MAX_CONCURRENT_REQUESTS", default_value_t = latchkey::config::DEFAULT_MAX_CONCURRENT_REQUESTS as u64,
          value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    max_concurrent_requests: u64,
    /// At shutdown (SIGTERM, Ctrl-C), how long requests in flight get to
    /// finish before their connections are cut and the server exits.
    #[arg(long, env = "LATCHKEY_DRAIN_TIMEOUT_SECONDS", default_value_t = latchkey::config::DEFAULT_DRAIN_TIMEOUT_SECS,
          value_parser = clap::value_parser!(u64).range(0..=3600))]
    drain_timeout_seconds: u64,
    /// How often API token uses are written to the database as "last used"
    /// (and once more at shutdown).
    #[arg(long, env = "LATCHKEY_USAGE_FLUSH_SECONDS", default_value_t = latchkey::usage::FLUSH_INTERVAL.as_secs(),
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    usage_flush_seconds: u64,
    /// Email of the first Owner, used only when no member exists yet.
    #[arg(
        long,
        env = "LATCHKEY_BOOTSTRAP_EMAIL",
        requires = "bootstrap_password"
    )]
    bootstrap_email: Option<String>,
    /// Password of the first Owner (prefer the environment variable).
    #[arg(
        long,
        env = "LATCHKEY_BOOTSTRAP_PASSWORD",
        hide_env_values = true,
        requires = "bootstrap_email"
    )]
    bootstrap_password: Option<String>,
}

#[derive(Subcommand)]
enum MemberCommand {
    /// Add a member; the password is read from standard input.
    Add {
        #[command(flatten)]
        database: DatabaseArgs,
        /// The member's email address.
        #[arg(long)]
        email: String,
        /// owner, admin, writer, reader or no_access.
        #[arg(long)]
        role: MemberRole,
    },
    /// Change a member's role. Running servers apply it on their next
    /// request: the member's personal tokens follow at once.
    SetRole {
        #[command(flatten)]
        database: DatabaseArgs,
        /// The member's email address.
        #[arg(long)]
        email: String,
        /// owner, admin, writer, reader or no_access.
        #[arg(long)]
        role: MemberRole,
    },
    /// Remove a member: their personal tokens are deleted (answering 401
    /// at once on every running server), their sessions end, and they can
    /// no longer sign in. Service tokens they created keep working.
    Remove {
        #[command(flatten)]
        database: DatabaseArgs,
        /// The member's email address.
        #[arg(long)]
        email: String,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: starting the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Serve(args) => serve(args).await,
            Command::Member { command } => match command {
                MemberCommand::Add {
                    database,
                    email,
                    role,
                } => add_member(&database.url, &email, role).await,
                MemberCommand::SetRole {
                    database,
                    email,
                    role,
                } => change_member(&database.url, &email, Some(role)).await,
                MemberCommand::Remove { database, email } => {
                    change_member(&database.url, &email, None).await
                }
            },
            Command::Dev {
                command:
                    DevCommand::SeedTokens {
                        database,
                        count,
                        personal,
                        owner_password,
                    },
            } => {
                let store = Store::connect(&database.url, Clock::system()).await?;
                let kind = if personal {
                    latchkey::domain::token::TokenKind::Personal
                } else {
                    latchkey::domain::token::TokenKind::Service
                };
                let secret =
                    seed::bench_tokens(&store, count, kind, owner_password.as_deref()).await;
                store.close().await;
                println!("{}", secret?);
                Ok(())
            }
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// `10.0.0.0/8`, or one address (`192.0.2.1`, `::1`) as a /32 or /128.
fn parse_proxy(s: &str) -> Result<ipnet::IpNet, String> {
    let s = s.trim();
    s.parse::<ipnet::IpNet>()
        .or_else(|_| s.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
        .map_err(|_| format!("{s:?} is not an IP address or CIDR block (like 10.0.0.0/8)"))
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let config = Config {
        listen: args.listen,
        database_url: args.database.url,
        secure_cookies: args.secure_cookies,
        session_idle: time::Duration::minutes(i64::from(args.session_idle_minutes)),
        api_auth_failures_per_minute: args.api_auth_failures_per_minute as usize,
        leak_reports_per_minute: args.leak_reports_per_minute as usize,
        trusted_proxies: args.trusted_proxies,
        request_timeout: std::time::Duration::from_secs(args.request_timeout_seconds),
        max_concurrent_requests: args.max_concurrent_requests as usize,
        drain_timeout: std::time::Duration::from_secs(args.drain_timeout_seconds),
        usage_flush_interval: std::time::Duration::from_secs(args.usage_flush_seconds),
        demo: args.demo,
        bootstrap: match (args.bootstrap_email, args.bootstrap_password) {
            (Some(email), Some(password)) => Some(BootstrapOwner { email, password }),
            _ => None,
        },
    };
    let app = App::new(config.clone()).await?;
    let seeded =
        seed::first_members(&app.state().store, config.bootstrap.as_ref(), config.demo).await?;
    if config.demo && seeded.members.is_empty() {
        tracing::info!("--demo: the database already has members, so nothing was seeded");
    }
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("listening on {}", config.listen))?;
    let addr = listener.local_addr().context("reading the bound address")?;
    print_banner(addr, &seeded);
    tracing::info!(%addr, database = %latchkey::store::redact(&config.database_url), "latchkey is serving");
    app.serve(listener, latchkey::shutdown_signal()).await
}

/// Tells a person where to sign in, and shows generated passwords this once.
fn print_banner(addr: SocketAddr, seeded: &seed::Seeded) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "\nLatchkey is running. Sign in at http://{addr}/login\n"
    );
    if seeded.members.iter().any(|m| m.password.is_some()) {
        let _ = writeln!(out, "These passwords are shown only this once:");
        for m in &seeded.members {
            if let Some(password) = &m.password {
                let _ = writeln!(
                    out,
                    "  {:<9}  {:<24}  {}",
                    m.role.label(),
                    m.email,
                    password
                );
            }
        }
        let _ = writeln!(out);
    }
    if let Some(secret) = &seeded.api_secret {
        let _ = writeln!(
            out,
            "Try the API with the demo Admin service token (also shown only once):"
        );
        let _ = writeln!(
            out,
            "  curl -H 'Authorization: {secret}' http://{addr}/api/v2/caller-identity\n"
        );
    }
    let _ = out.flush();
}

async fn add_member(database_url: &str, email: &str, role: MemberRole) -> anyhow::Result<()> {
    let email = normalize_email(email).map_err(|e| anyhow::anyhow!("--email: {e}"))?;
    let password = read_password_from_stdin()?;
    validate_new_password(&password).map_err(|e| anyhow::anyhow!("{e}"))?;
    let store = Store::connect(database_url, Clock::system()).await?;
    let result = store
        .create_member(&email, role, &hash_password(&password)?, None)
        .await;
    let servers = match result {
        Ok(_) => Some(store.tell_servers().await),
        Err(_) => None,
    };
    store.close().await;
    match result {
        Ok(member) => {
            println!(
                "Added {} as {} (id {})",
                member.email,
                role.label(),
                member.id
            );
            if let Some(servers) = servers.filter(|t| *t != Told::NoServer) {
                println!("{}", told(servers));
            }
            Ok(())
        }
        Err(StoreError::Conflict(message)) => Err(anyhow::anyhow!(message)),
        Err(e) => Err(e).context("adding the member"),
    }
}

/// Sets a member's role (`Some`) or removes them (`None`).
async fn change_member(
    database_url: &str,
    email: &str,
    role: Option<MemberRole>,
) -> anyhow::Result<()> {
    let email = normalize_email(email).map_err(|e| anyhow::anyhow!("--email: {e}"))?;
    let store = Store::connect(database_url, Clock::system()).await?;
    let result = async {
        let member = store
            .find_member_by_email(&email)
            .await?
            .ok_or_else(|| anyhow::anyhow!("no member has the email {email}"))?;
        let said = match role {
            Some(role) => {
                let changed = store.set_member_role(&member.id, role, None).await;
                let changed = changed.map_err(member_error)?;
                format!(
                    "{} is now {} (was {})",
                    changed.email,
                    role.label(),
                    member.role.label()
                )
            }
            None => {
                let (removed, tokens) = store
                    .remove_member(&member.id, None)
                    .await
                    .map_err(member_error)?;
                format!(
                    "Removed {}; {tokens} personal token{} deleted",
                    removed.email,
                    if tokens == 1 { "" } else { "s" }
                )
            }
        };
        anyhow::Ok(format!("{said}. {}", told(store.tell_servers().await)))
    }
    .await;
    store.close().await;
    println!("{}", result?);
    Ok(())
}

/// What became of a change for the servers running on the database.
fn told(told: Told) -> String {
    match told {
        Told::Applied => "The running server applied it.".to_string(),
        Told::Notified => "Every running instance applies it on its next request.".to_string(),
        Told::NoServer => "No server is running on this database.".to_string(),
        Told::Unconfirmed(why) => format!(
            "The running server did not confirm ({why}); it applies the change within a second."
        ),
    }
}

/// A refused member change in the operator's words.
fn member_error(e: StoreError) -> anyhow::Error {
    match e {
        StoreError::Conflict(message) => anyhow::anyhow!(message),
        other => anyhow::Error::new(other).context("changing the member"),
    }
}

/// The whole of standard input, less one trailing line break, so both
/// `echo pw | latchkey member add …` and a typed line work.
fn read_password_from_stdin() -> anyhow::Result<String> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprint!("Password (input is visible), then Enter and Ctrl-D: ");
    }
    let mut password = String::new();
    stdin
        .lock()
        .take(64 * 1024)
        .read_to_string(&mut password)
        .context("reading the password from standard input (it must be UTF-8)")?;
    if password.ends_with('\n') {
        password.pop();
        if password.ends_with('\r') {
            password.pop();
        }
    }
    Ok(password)
}
