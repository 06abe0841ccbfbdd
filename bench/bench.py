#!/usr/bin/env python3
"""`make bench`: Latchkey's hot paths under load, next to its own /healthz.

Starts the release build on a fresh database seeded with BENCH_TOKENS tokens
(10,000 by default), loads it with wrk from this same machine, and prints one
table: requests/s, p99 and the ratio to /healthz for each path, the bytes a
first visit to the Authorization page costs on the wire (compressed), the
server's memory, and how many tokens 50 concurrent API clients create per
second. Each figure is checked against its target; the exit status is 1 when
one is missed (on the first column, SQLite; the others are for comparison).

With BENCH_POSTGRES=postgres://USER@HOST/DB the same runs on PostgreSQL, with
one instance and then with two on the one database (the load split between
them). Figures, measured: the targets say what we promised, nothing here is a
test.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from html.parser import HTMLParser

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ.get("LATCHKEY_BIN", os.path.join(ROOT, "target", "release", "latchkey"))
PORT = int(os.environ.get("BENCH_PORT", "18390"))
SECONDS = int(os.environ.get("BENCH_SECONDS", "10"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "32"))
TOKENS = int(os.environ.get("BENCH_TOKENS", "10000"))
POSTGRES = os.environ.get("BENCH_POSTGRES", "")
PASSWORD = "bench-password-0123456789"
# A substring of about a tenth of the seeded names ("bench token 09…").
SEARCH = os.environ.get("BENCH_SEARCH", "token 09")


def log(*args):
    print(*args, file=sys.stderr, flush=True)


def ensure_wrk():
    if shutil.which("wrk"):
        return
    if os.geteuid() == 0:
        subprocess.run(["apt-get", "update", "-qq"], check=True)
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True,
                       env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
                       stdout=subprocess.DEVNULL)
    else:
        sys.exit("wrk is missing: sudo apt-get install wrk")


def fresh_postgres(name):
    subprocess.run(["psql", "-q", "-v", "ON_ERROR_STOP=1", POSTGRES,
                    "-c", f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)',
                    "-c", f'CREATE DATABASE "{name}"'],
                   check=True, stderr=subprocess.DEVNULL)
    base, _, query = POSTGRES.partition("?")
    return base.rsplit("/", 1)[0] + "/" + name + ("?" + query if query else "")


def seed(db):
    out = subprocess.run([BIN, "dev", "seed-tokens", "--database", db, "--count", str(TOKENS)],
                         env={**os.environ, "LATCHKEY_BENCH_PASSWORD": PASSWORD},
                         check=True, capture_output=True, text=True)
    return out.stdout.strip().splitlines()[-1]


class Server:
    def __init__(self, db, port, logdir):
        self.port = port
        self.err = open(os.path.join(logdir, f"server-{port}.log"), "w")
        self.proc = subprocess.Popen([BIN, "serve", "--database", db, "--listen", f"127.0.0.1:{port}"],
                                     env={**os.environ, "RUST_LOG": "warn"},
                                     stdout=subprocess.DEVNULL, stderr=self.err)
        for _ in range(200):
            try:
                urllib.request.urlopen(self.url("/healthz"), timeout=1).read()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"the server on port {port} did not start")

    def url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"

    def rss_kib(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=20)
        self.err.close()


class Form(HTMLParser):
    """The csrf_token field and every same-page asset URL."""

    def __init__(self):
        super().__init__()
        self.csrf = None
        self.assets = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "input" and a.get("name") == "csrf_token":
            self.csrf = a.get("value")
        if tag == "script" and a.get("src"):
            self.assets.append(a["src"])
        if tag == "link" and a.get("href") and a.get("rel") in ("stylesheet", "icon"):
            self.assets.append(a["href"])
        if tag == "img" and a.get("src"):
            self.assets.append(a["src"])


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def sign_in(server):
    """A session cookie for the seeded Owner."""
    opener = urllib.request.build_opener(NoRedirect)
    res = opener.open(server.url("/login"))
    cookie = re.search(r"latchkey_session=([^;]+)", res.headers.get("Set-Cookie", "")).group(1)
    form = Form()
    form.feed(res.read().decode())
    body = urllib.parse.urlencode({"email": "bench@localhost", "password": PASSWORD,
                                   "csrf_token": form.csrf}).encode()
    req = urllib.request.Request(server.url("/login"), data=body,
                                 headers={"Cookie": f"latchkey_session={cookie}"})
    try:
        opener.open(req)
    except urllib.error.HTTPError as e:
        if e.code != 303:
            raise
        return re.search(r"latchkey_session=([^;]+)", e.headers.get("Set-Cookie", "")).group(1)
    raise RuntimeError("signing in did not redirect")


def first_load_bytes(server, cookie):
    """What a first visit to the Authorization page downloads, compressed:
    (bytes, number of requests, other origins)."""
    def fetch(path):
        req = urllib.request.Request(server.url(path), headers={
            "Cookie": f"latchkey_session={cookie}", "Accept-Encoding": "br, gzip"})
        with urllib.request.urlopen(req) as res:
            return res.read()
    page = fetch("/settings/authorization")
    form = Form()
    # The parser wants text; the bytes are compressed, so decode a copy.
    text = subprocess.run(["curl", "-s", "--compressed", "-H", f"Cookie: latchkey_session={cookie}",
                           server.url("/settings/authorization")], capture_output=True, text=True).stdout
    form.feed(text)
    total, others = len(page), set()
    for asset in form.assets:
        parsed = urllib.parse.urlparse(asset)
        if parsed.netloc:
            others.add(parsed.netloc)
            continue
        total += len(fetch(asset))
    return total, 1 + len(form.assets), others


def wrk(servers, path, headers=(), script=None, connections=CONNECTIONS, seconds=None):
    """Requests/s (summed) and p99 in ms (worst) with the load split between servers."""
    per = max(1, connections // len(servers))
    threads = 2 if len(servers) == 1 else 1
    procs = []
    for s in servers:
        args = ["wrk", f"-t{threads}", f"-c{per}", f"-d{seconds or SECONDS}s", "--latency"]
        for h in headers:
            args += ["-H", h]
        if script:
            args += ["-s", script]
        procs.append(subprocess.Popen(args + [s.url(path)], stdout=subprocess.PIPE, text=True))
    rps, p99, non2xx = 0.0, 0.0, 0
    for p in procs:
        out = p.communicate()[0]
        rps += float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
        m = re.search(r"^\s*99%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        value = float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]
        p99 = max(p99, value)
        bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
        non2xx += int(bad.group(1)) if bad else 0
    if non2xx:
        log(f"warning: {path}: {non2xx} responses were not 2xx")
    return rps, p99


CREATE_SCRIPT = """
counter = 0
request = function()
  counter = counter + 1
  local body = '{"name":"created ' .. counter .. '-' .. math.random(1e9) .. '","role":"reader","serviceToken":true}'
  return wrk.format("POST", nil, nil, body)
end
"""


def column(label, db, instances, workdir):
    log(f"[{label}] seeding {TOKENS:,} tokens…")
    token = seed(db)
    servers = [Server(db, PORT + i, workdir) for i in range(instances)]
    try:
        cookie = sign_in(servers[0])
        auth = f"Authorization: {token}"
        session = f"Cookie: latchkey_session={cookie}"
        q = urllib.parse.quote(SEARCH)
        r = {}
        log(f"[{label}] loading…")
        # Warm-up, not measured: the first seconds after start also carry
        # the first checkpoint of the seeding's write-ahead log.
        time.sleep(2)
        wrk(servers, "/healthz", seconds=2)
        r["healthz"] = wrk(servers, "/healthz")
        r["identity"] = wrk(servers, "/api/v2/caller-identity", [auth])
        r["page"] = wrk(servers, "/settings/authorization", [session])
        # As a browser asks: the same page, brotli-compressed per request.
        r["page_br"] = wrk(servers, "/settings/authorization", [session, "Accept-Encoding: br, gzip"])
        r["search"] = wrk(servers, f"/settings/authorization?q={q}", [session])
        r["api_list"] = wrk(servers, "/api/v2/tokens?limit=25", [auth])
        r["weight"] = first_load_bytes(servers[0], cookie)
        r["rss"] = sum(s.rss_kib() for s in servers)
        script = os.path.join(workdir, "create.lua")
        with open(script, "w") as f:
            f.write(CREATE_SCRIPT)
        r["creates"] = wrk(servers, "/api/v2/tokens",
                           [auth, "Content-Type: application/json"], script=script, connections=50)
        return r
    finally:
        for s in servers:
            s.stop()


TARGETS = {
    "identity": (0.8, 5.0),
    "page": (0.2, None),
    "search": (0.2, None),
    "api_list": (0.2, None),
}
ROWS = [
    ("identity", "GET /api/v2/caller-identity", "≥ 0.80 × healthz, p99 ≤ 5 ms"),
    ("page", "GET /settings/authorization (50 rows)", "≥ 0.20 × healthz"),
    ("search", f"GET /settings/authorization?q={SEARCH}", "≥ 0.20 × healthz"),
    ("api_list", "GET /api/v2/tokens?limit=25", "≥ 0.20 × healthz"),
]


def verdicts(r):
    """(row key, cell text, target met) for every row."""
    out = []
    health = r["healthz"][0]
    out.append(("healthz", f"{r['healthz'][0]:,.0f}/s, p99 {r['healthz'][1]:.2f} ms", None))
    for key, _, _ in ROWS:
        rps, p99 = r[key]
        ratio = rps / health
        floor, p99_max = TARGETS[key]
        ok = ratio >= floor and (p99_max is None or p99 <= p99_max)
        out.append((key, f"{rps:,.0f}/s, p99 {p99:.2f} ms, {ratio:.2f}", ok))
    rps, p99 = r["page_br"]
    out.append(("page_br", f"{rps:,.0f}/s, p99 {p99:.2f} ms, {rps / health:.2f}", None))
    size, requests, others = r["weight"]
    out.append(("weight", f"{size / 1024:.1f} KB in {requests} requests, {len(others)} other origins",
                size <= 30 * 1024 and not others))
    out.append(("rss", f"{r['rss'] / 1024:.1f} MiB", r["rss"] <= 48 * 1024 or TOKENS > 10_000))
    out.append(("creates", f"{r['creates'][0]:,.0f}/s, p99 {r['creates'][1]:.2f} ms",
                r["creates"][0] >= 2000))
    return out


def main():
    ensure_wrk()
    workdir = tempfile.mkdtemp(prefix="latchkey-bench-")
    columns = []
    try:
        columns.append(("SQLite", column("sqlite", f"sqlite://{workdir}/bench.db", 1, workdir)))
        if POSTGRES:
            columns.append(("PostgreSQL", column("postgres", fresh_postgres("lk_bench"), 1, workdir)))
            columns.append(("PostgreSQL, 2 instances",
                            column("postgres-x2", fresh_postgres("lk_bench"), 2, workdir)))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    rows_named = [(k, n) for k, n, _ in ROWS]
    rows_named.insert(2, ("page_br", "the same page, brotli (as browsers ask)"))
    names = dict([("healthz", "GET /healthz")] + rows_named + [
        ("weight", "first load of the Authorization page"),
        ("rss", "server RSS after the reads"),
        ("creates", "POST /api/v2/tokens, 50 concurrent")])
    targets = dict([(k, t) for k, _, t in ROWS] + [
        ("page_br", "(for information)"),
        ("weight", "≤ 30 KB, no other origin"), ("rss", "≤ 48 MiB at 10,000"),
        ("creates", "≥ 2,000/s")])
    print()
    print(f"{TOKENS:,} tokens; wrk, {CONNECTIONS} connections (50 for creates), {SECONDS} s each,")
    print(f"on this {os.cpu_count()}-core machine with server(s) and wrk side by side.")
    print(f"Ratios are to the same column's /healthz. Targets are checked on {columns[0][0]}.")
    print()
    header = ["path", "target"] + [c[0] for c in columns]
    rows = []
    missed = []
    results = [dict((k, (text, ok)) for k, text, ok in verdicts(r)) for _, r in columns]
    for key in names:
        cells = [names[key], targets.get(key, "")]
        for i, res in enumerate(results):
            text, ok = res[key]
            mark = "" if ok is None else (" ✓" if ok else " ✗")
            cells.append(text + mark)
            if i == 0 and ok is False:
                missed.append(names[key])
        rows.append(cells)
    widths = [max(len(str(row[i])) for row in rows + [header]) for i in range(len(header))]
    print(" | ".join(h.ljust(w) for h, w in zip(header, widths)))
    print("-|-".join("-" * w for w in widths))
    for row in rows:
        print(" | ".join(str(c).ljust(w) for c, w in zip(row, widths)))
    print()
    with open(os.path.join(ROOT, "target", "bench-latest.json"), "w") as f:
        json.dump({"tokens": TOKENS, "columns": [[c[0], res] for c, res in zip(columns, results)]},
                  f, indent=1, default=str)
    if missed:
        print("Missed: " + "; ".join(missed))
        sys.exit(1)
    print("Every target met.")


if __name__ == "__main__":
    main()
