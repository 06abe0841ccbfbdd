#!/usr/bin/env bash
# Starts a Latchkey server for the browser tests: a fresh database in a
# temporary folder, one member per role the specs use, then `serve` in the
# foreground (Playwright stops it when the run ends).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=${LATCHKEY_BIN:-$here/../../target/debug/latchkey}
port=${E2E_PORT:?E2E_PORT must be set}
dir=$(mktemp -d)
db="sqlite://$dir/e2e.db"
password=${E2E_PASSWORD:?E2E_PASSWORD must be set}
for who in owner admin writer reader; do
  printf '%s' "$password" | "$bin" member add --database "$db" --email "$who@e2e.test" --role "$who" >/dev/null
done
exec "$bin" serve --database "$db" --listen "127.0.0.1:$port"
