#!/usr/bin/env bash
# `make bench`: the release build on a fresh database with 10,000 tokens,
# loaded by wrk from this same machine. Prints requests/s and p99 latency for
# the hot paths next to the server's own /healthz, and the server's memory.
# Figures, not a test: nothing here passes or fails on a number.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=$root/target/release/latchkey
port=${BENCH_PORT:-18390}
seconds=${BENCH_SECONDS:-10}
connections=${BENCH_CONNECTIONS:-32}

command -v wrk >/dev/null || {
  if [ "$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
  else echo "wrk is missing: sudo apt-get install wrk" >&2; exit 1; fi
}

dir=$(mktemp -d)
db="sqlite://$dir/bench.db"
echo "Seeding 10,000 tokens…"
token=$("$bin" dev seed-tokens --database "$db" --count 10000 | tail -n 1)
RUST_LOG=warn "$bin" serve --database "$db" --listen "127.0.0.1:$port" >"$dir/out.log" 2>"$dir/err.log" &
pid=$!
trap 'kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done

run() { # name, url, [header]
  local name=$1 url=$2 out rps p99
  if [ $# -ge 3 ]; then out=$(wrk -t2 -c"$connections" -d"${seconds}s" --latency -H "$3" "$url")
  else out=$(wrk -t2 -c"$connections" -d"${seconds}s" --latency "$url"); fi
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
  if grep -q "Non-2xx" <<<"$out"; then echo "warning: $name had non-2xx responses" >&2; fi
  printf '%-34s %12s %10s\n' "$name" "$rps" "$p99"
  echo "$rps" >"$dir/rps-$name"
}

echo
echo "wrk: 2 threads, $connections connections, ${seconds}s each, on the same 2-core machine"
printf '%-34s %12s %10s\n' "endpoint" "requests/s" "p99"
run healthz "http://127.0.0.1:$port/healthz"
run caller-identity "http://127.0.0.1:$port/api/v2/caller-identity" "Authorization: $token"
run "tokens?limit=25" "http://127.0.0.1:$port/api/v2/tokens?limit=25" "Authorization: $token"
health=$(cat "$dir/rps-healthz")
ident=$(cat "$dir/rps-caller-identity")
echo
awk -v a="$ident" -v b="$health" 'BEGIN { printf "caller-identity / healthz throughput: %.2f\n", a / b }'
rss_kb=$(ps -o rss= -p "$pid" | tr -d ' ')
awk -v k="$rss_kb" 'BEGIN { printf "server RSS after the runs: %.1f MiB\n", k / 1024 }'
