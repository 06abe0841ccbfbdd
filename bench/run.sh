#!/usr/bin/env bash
# `make bench`: the release build on a fresh database with 10,000 tokens,
# loaded by wrk from this same machine. Prints requests/s and p99 latency for
# the hot paths next to the server's own /healthz, and the server's memory.
#
# SQLite always; with BENCH_POSTGRES=postgres://USER@HOST/DB (make bench
# passes LATCHKEY_TEST_POSTGRES on), PostgreSQL too, first one instance, then
# two instances on the one database with the load split between them: one
# table, a column each.
#
# Figures, not a test: nothing here passes or fails on a number.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=$root/target/release/latchkey
port=${BENCH_PORT:-18390}
seconds=${BENCH_SECONDS:-10}
connections=${BENCH_CONNECTIONS:-32}
tokens=${BENCH_TOKENS:-10000}
postgres=${BENCH_POSTGRES:-}

command -v wrk >/dev/null || {
  if [ "$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
  else echo "wrk is missing: sudo apt-get install wrk" >&2; exit 1; fi
}

dir=$(mktemp -d)
pids=()
stop_servers() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  pids=()
}
trap 'stop_servers; rm -rf "$dir"' EXIT

# A fresh PostgreSQL database on the server $postgres names.
fresh_postgres() {
  local name=lk_bench
  psql -q -v ON_ERROR_STOP=1 "$postgres" \
    -c "DROP DATABASE IF EXISTS \"$name\" WITH (FORCE)" -c "CREATE DATABASE \"$name\""
  local base=${postgres%%\?*}
  echo "${base%/*}/$name${postgres#"$base"}"
}

# wrk against every listed port at once (the load split evenly); prints
# "requests/s p99-ms" summed and worst-of.
load() { # url-path, header, ports...
  local path=$1 header=$2; shift 2
  local n=$# per=$(( connections / $# )) outs=() wrks=()
  local threads=$(( n == 1 ? 2 : 1 ))
  for p in "$@"; do
    local out="$dir/wrk-$p" args=(-t"$threads" -c"$per" -d"${seconds}s" --latency)
    if [ -n "$header" ]; then args+=(-H "$header"); fi
    wrk "${args[@]}" "http://127.0.0.1:$p$path" >"$out" &
    wrks+=($!)
    outs+=("$out")
  done
  wait "${wrks[@]}"
  for out in "${outs[@]}"; do
    if grep -q "Non-2xx" "$out"; then echo "warning: $path had non-2xx responses" >&2; fi
  done
  awk '
    /Requests\/sec/ { rps += $2 }
    $1 == "99%" { v = $2; ms = v + 0;
      if (v ~ /us$/) ms = ms / 1000; else if (v ~ /ms$/) ms = ms; else if (v ~ /s$/) ms = ms * 1000;
      if (ms > worst) worst = ms }
    END { printf "%.0f %.2f\n", rps, worst }' "${outs[@]}"
}

# One column: seed, start `instances` servers, load each endpoint.
column() { # label, database URL, instances
  local label=$1 db=$2 instances=$3
  echo "[$label] seeding $tokens tokens…" >&2
  local token
  token=$("$bin" dev seed-tokens --database "$db" --count "$tokens" | tail -n 1)
  local ports=()
  for i in $(seq "$instances"); do
    local p=$(( port + i - 1 ))
    RUST_LOG=warn "$bin" serve --database "$db" --listen "127.0.0.1:$p" >"$dir/out-$label-$i.log" 2>"$dir/err-$label-$i.log" &
    pids+=($!)
    ports+=("$p")
  done
  for p in "${ports[@]}"; do
    for _ in $(seq 100); do curl -sf "http://127.0.0.1:$p/healthz" >/dev/null && break; sleep 0.1; done
  done
  load /healthz "" "${ports[@]}" >"$dir/$label-healthz"
  load /api/v2/caller-identity "Authorization: $token" "${ports[@]}" >"$dir/$label-identity"
  load "/api/v2/tokens?limit=25" "Authorization: $token" "${ports[@]}" >"$dir/$label-list"
  local rss=0
  for pid in "${pids[@]}"; do rss=$(( rss + $(ps -o rss= -p "$pid" | tr -d ' ') )); done
  echo "$rss" >"$dir/$label-rss"
  stop_servers
}

labels=()
column sqlite "sqlite://$dir/bench.db" 1
labels+=(sqlite)
if [ -n "$postgres" ]; then
  column postgres "$(fresh_postgres)" 1
  labels+=(postgres)
  column postgres-x2 "$(fresh_postgres)" 2
  labels+=(postgres-x2)
fi

header() { case $1 in sqlite) echo "SQLite";; postgres) echo "PostgreSQL";; postgres-x2) echo "PostgreSQL, 2 instances";; esac; }
echo
echo "$tokens tokens; wrk: $connections connections (split between instances), ${seconds}s per endpoint,"
echo "on this $(nproc)-core machine with the server(s) and wrk side by side. Requests/s (p99 ms)."
printf '%-28s' "endpoint"; for l in "${labels[@]}"; do printf ' %26s' "$(header "$l")"; done; echo
row() { # name, file suffix
  printf '%-28s' "$1"
  for l in "${labels[@]}"; do
    read -r rps p99 <"$dir/$l-$2"
    printf ' %26s' "$(printf "%'d (%s)" "$rps" "$p99")"
  done
  echo
}
row "GET /healthz" healthz
row "GET /api/v2/caller-identity" identity
row "GET /api/v2/tokens?limit=25" list
printf '%-28s' "caller-identity / healthz"
for l in "${labels[@]}"; do
  read -r a _ <"$dir/$l-identity"; read -r b _ <"$dir/$l-healthz"
  printf ' %26s' "$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.2f", a / b }')"
done
echo
printf '%-28s' "server RSS after the runs"
for l in "${labels[@]}"; do
  printf ' %26s' "$(awk -v k="$(cat "$dir/$l-rss")" 'BEGIN { printf "%.1f MiB", k / 1024 }')"
done
echo
