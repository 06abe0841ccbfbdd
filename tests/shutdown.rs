//! SIGTERM on the real binary: requests in flight are finished, the "last
//! used" times noted since the last flush are written, and the process exits
//! 0 within 10 s even while a client holds a request open.
//!
//! A test binary of its own, because it runs `latchkey serve` as a child
//! process (the signal must reach a real process, and the exit status is
//! the point) on an SQLite file of its own.

use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail, ensure};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};

const BIN: &str = env!("CARGO_BIN_EXE_latchkey");

/// What PRODUCT asks of a process manager's stop: well within 10 s.
const EXIT_WITHIN: Duration = Duration::from_secs(10);

/// Runs `latchkey serve` and returns it with its address; everything it
/// logs is collected into the returned buffer.
async fn serve(database: &str) -> anyhow::Result<(Child, SocketAddr, Arc<Mutex<String>>)> {
    let mut child = Command::new(BIN)
        .args(["serve", "--database", database, "--listen", "127.0.0.1:0"])
        // Only the flush at shutdown can write a use: the periodic one is
        // a day away.
        .args(["--usage-flush-seconds", "86400"])
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        // The default drain bound is the one under test.
        .env_remove("LATCHKEY_DRAIN_TIMEOUT_SECONDS")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .context("starting latchkey serve")?;
    let log = Arc::new(Mutex::new(String::new()));
    let stderr = child.stderr.take().context("stderr")?;
    tokio::spawn({
        let log = Arc::clone(&log);
        async move {
            let mut lines = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                let mut log = log.lock().unwrap_or_else(|p| p.into_inner());
                log.push_str(&line);
                log.push('\n');
            }
        }
    });
    let mut stdout = BufReader::new(child.stdout.take().context("stdout")?).lines();
    let addr = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(line) = stdout.next_line().await? {
            if let Some(rest) = line.split("Sign in at http://").nth(1) {
                let addr = rest.trim_end_matches("/login").trim();
                return addr.parse::<SocketAddr>().context("the banner's address");
            }
        }
        bail!("latchkey serve exited without its banner")
    })
    .await
    .context("waiting for the banner")??;
    // The rest of stdout is not needed, but must be read for the pipe not
    // to fill.
    tokio::spawn(async move { while let Ok(Some(_)) = stdout.next_line().await {} });
    Ok((child, addr, log))
}

/// Sends the head of a `POST /api/v2/tokens` that announces `body_len`
/// bytes with `Expect: 100-continue`, and returns once the server answered
/// `100 Continue`: the handler is then running and waiting for the body, a
/// request in flight by any measure.
async fn start_create(
    addr: SocketAddr,
    secret: &str,
    body_len: usize,
) -> anyhow::Result<TcpStream> {
    let mut stream = TcpStream::connect(addr).await?;
    let head = format!(
        "POST /api/v2/tokens HTTP/1.1\r\nHost: {addr}\r\nAuthorization: {secret}\r\n\
         Content-Type: application/json\r\nContent-Length: {body_len}\r\n\
         Expect: 100-continue\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await?;
    let mut seen = Vec::new();
    let mut byte = [0u8; 1];
    while !seen.ends_with(b"\r\n\r\n") {
        let n = tokio::time::timeout(Duration::from_secs(30), stream.read(&mut byte))
            .await
            .context("waiting for 100 Continue")??;
        ensure!(
            n == 1,
            "closed before 100 Continue: {:?}",
            String::from_utf8_lossy(&seen)
        );
        seen.push(byte[0]);
    }
    let interim = String::from_utf8_lossy(&seen);
    ensure!(
        interim.starts_with("HTTP/1.1 100"),
        "expected 100 Continue, got {interim:?}"
    );
    Ok(stream)
}

/// Whether a new connection is refused: the server stopped accepting.
async fn refuses_connections(addr: SocketAddr) -> bool {
    matches!(TcpStream::connect(addr).await, Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused)
}

async fn last_used(database: &str) -> anyhow::Result<Vec<Option<i64>>> {
    sqlx::any::install_default_drivers();
    let pool = sqlx::any::AnyPoolOptions::new()
        .max_connections(1)
        .connect(database)
        .await?;
    let used = sqlx::query_scalar("SELECT last_used_at FROM tokens ORDER BY created_at")
        .fetch_all(&pool)
        .await?;
    pool.close().await;
    Ok(used)
}

#[tokio::test]
async fn sigterm_finishes_requests_in_flight_writes_last_used_and_exits_0_within_10_s()
-> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let database = format!("sqlite://{}", dir.path().join("latchkey.db").display());

    // An Admin service token, as the benchmark's seeding makes one.
    let seeded = std::process::Command::new(BIN)
        .args([
            "dev",
            "seed-tokens",
            "--database",
            &database,
            "--count",
            "0",
        ])
        .env("RUST_LOG", "warn")
        .output()
        .context("seeding a token")?;
    ensure!(
        seeded.status.success(),
        "seed-tokens: {}",
        String::from_utf8_lossy(&seeded.stderr)
    );
    let secret = String::from_utf8(seeded.stdout)?
        .lines()
        .last()
        .map(str::to_string)
        .ok_or_else(|| anyhow!("seed-tokens printed no secret"))?;

    let (mut child, addr, log) = serve(&database).await?;

    // A use of the token: noted in memory, not yet written.
    let client = reqwest::Client::builder().no_proxy().build()?;
    let res = client
        .get(format!("http://{addr}/api/v2/caller-identity"))
        .header("Authorization", &secret)
        .send()
        .await?;
    ensure!(res.status() == 200, "caller-identity: {}", res.status());
    drop(client);
    assert_eq!(
        last_used(&database).await?,
        [None],
        "the use is still pending"
    );

    // One create that will finish during the drain, one that never will.
    let body = br#"{"name": "in flight at SIGTERM", "serviceToken": true, "role": "reader"}"#;
    let mut finishing = start_create(addr, &secret, body.len()).await?;
    let mut stuck = start_create(addr, &secret, body.len()).await?;

    let pid = child.id().context("the server's pid")?;
    let terminated = Instant::now();
    let kill = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()?;
    ensure!(kill.success(), "kill -TERM {pid}");

    // Draining has begun once new connections are refused; then the first
    // request gets its body and must still be answered in full.
    let mut waited = Duration::ZERO;
    while !refuses_connections(addr).await {
        ensure!(
            waited < EXIT_WITHIN,
            "still accepting connections after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
        waited += Duration::from_millis(20);
    }
    finishing.write_all(body).await?;
    let mut response = Vec::new();
    tokio::time::timeout(EXIT_WITHIN, finishing.read_to_end(&mut response))
        .await
        .context("waiting for the in-flight create's response")??;
    let response = String::from_utf8_lossy(&response);
    assert!(
        response.starts_with("HTTP/1.1 201"),
        "the request in flight at SIGTERM was answered: {response}"
    );

    let status = tokio::time::timeout(
        EXIT_WITHIN.saturating_sub(terminated.elapsed()),
        child.wait(),
    )
    .await
    .map_err(|_| anyhow!("still running 10 s after SIGTERM:\n{}", log.lock().unwrap()))??;
    assert!(
        status.success(),
        "exit status {status}:\n{}",
        log.lock().unwrap()
    );
    assert!(terminated.elapsed() < EXIT_WITHIN);

    // The stuck request was cut, not answered.
    let mut rest = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), stuck.read_to_end(&mut rest)).await;
    assert!(rest.is_empty(), "{}", String::from_utf8_lossy(&rest));
    let log = log.lock().unwrap().clone();
    assert!(
        log.contains("cut the connections still open") && log.contains("connections=1"),
        "{log}"
    );

    // The use noted before SIGTERM is stored; so is the token created in
    // flight (which has not been used).
    let used = last_used(&database).await?;
    assert_eq!(used.len(), 2, "{used:?}");
    assert!(
        used[0].is_some(),
        "the pending use was written at shutdown: {used:?}"
    );
    assert_eq!(used[1], None);
    Ok(())
}
