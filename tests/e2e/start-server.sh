#!/usr/bin/env bash
# Starts a Latchkey server for the browser tests: a fresh database (SQLite in
# a temporary folder, or with E2E_POSTGRES=postgres://… a fresh PostgreSQL
# database on that server), one member per role the specs use, then `serve`
# in the foreground (Playwright stops it when the run ends).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=${LATCHKEY_BIN:-$here/../../target/debug/latchkey}
port=${E2E_PORT:?E2E_PORT must be set}
password=${E2E_PASSWORD:?E2E_PASSWORD must be set}
if [ -n "${E2E_POSTGRES:-}" ]; then
  name="lk_e2e_$port"
  psql -q -v ON_ERROR_STOP=1 "$E2E_POSTGRES" \
    -c "DROP DATABASE IF EXISTS \"$name\" WITH (FORCE)" \
    -c "CREATE DATABASE \"$name\""
  # The same server and options, the new database.
  base=${E2E_POSTGRES%%\?*}
  query=${E2E_POSTGRES#"$base"}
  db="${base%/*}/$name$query"
else
  dir=$(mktemp -d)
  db="sqlite://$dir/e2e.db"
fi
for who in owner admin writer reader; do
  printf '%s' "$password" | "$bin" member add --database "$db" --email "$who@e2e.test" --role "$who" >/dev/null
done
# Uses are written every second, so a spec sees "last used" without waiting.
exec "$bin" serve --database "$db" --listen "127.0.0.1:$port" --usage-flush-seconds 1
