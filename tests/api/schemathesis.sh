#!/usr/bin/env bash
# Fuzzes the REST API against its own OpenAPI document with schemathesis
# (installed from PyPI into target/ when missing): no server errors, and every
# response must match the documented status codes, content types, headers and
# schemas. Bounded in time; exits non-zero on any failure.
#
# The stateful phase is left out on purpose: it follows links from
# caller-identity to DELETE/reset of the very token it authenticates with,
# after which every request is (correctly) refused and nothing more is tested.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=${LATCHKEY_BIN:-$root/target/debug/latchkey}
venv=$root/target/schemathesis-venv
version=4.32.5
port=${API_FUZZ_PORT:-18290}
max_time=${API_FUZZ_SECONDS:-90}

if [ ! -x "$venv/bin/st" ] || ! "$venv/bin/st" --version 2>/dev/null | grep -q "$version"; then
  echo "Installing schemathesis $version into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$version"
fi

dir=$(mktemp -d)
# A personal Admin token drives the run: service tokens may not create
# personal tokens, which is most of what a generated create body asks for.
token=$("$bin" dev seed-tokens --database "sqlite://$dir/fuzz.db" --count 20 --personal | tail -n 1)
# Someone else to change and remove (the driving token's member is kept).
printf '%s' 'fuzz-target-password' | "$bin" member add --database "sqlite://$dir/fuzz.db" --email fuzz-target@localhost --role reader >/dev/null
# High limits: negative tests send bad credentials on purpose, and leak
# reports come by the hundred; the throttles would otherwise answer them 429
# before the handlers run.
"$bin" serve --database "sqlite://$dir/fuzz.db" --listen "127.0.0.1:$port" --api-auth-failures-per-minute 1000000 --leak-reports-per-minute 1000000 >"$dir/out.log" 2>"$dir/err.log" &
pid=$!
trap 'kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 100); do
  curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break
  sleep 0.2
done
curl -sf "http://127.0.0.1:$port/healthz" >/dev/null || { echo "the server did not start" >&2; cat "$dir/err.log" >&2; exit 1; }

# The driving token and its member stay out of reach (see fuzz_hooks.py).
identity=$(curl -sf -H "Authorization: $token" "http://127.0.0.1:$port/api/v2/caller-identity")
protected=$(printf '%s' "$identity" | python3 -c 'import json, sys; d = json.load(sys.stdin); print(d["tokenId"] + "," + d["memberId"])')
LATCHKEY_FUZZ_PROTECTED="$protected" LATCHKEY_FUZZ_SECRET="$token" PYTHONPATH="$root/tests/api" SCHEMATHESIS_HOOKS=fuzz_hooks \
"$venv/bin/st" run "http://127.0.0.1:$port/api/v2/openapi.json" \
  --header "Authorization: $token" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,response_headers_conformance \
  --phases coverage,fuzzing \
  --max-examples 40 \
  --workers 2 \
  --max-time "$max_time"

# The driving token survived the run (leak reports need no token, so a
# report of its secret would have revoked it).
curl -sf -o /dev/null -H "Authorization: $token" "http://127.0.0.1:$port/api/v2/caller-identity" \
  || { echo "the driving token was revoked during the run" >&2; exit 1; }

# The server must have stayed healthy throughout.
if grep -E "panicked|internal error" "$dir/err.log"; then
  echo "the server logged internal errors during fuzzing" >&2
  exit 1
fi
