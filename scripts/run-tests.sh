#!/usr/bin/env bash
# `make test`: point the tiers at the services this machine can reach, then run pytest.
# DATABASE_URL / REDIS_URL from the environment win; otherwise the local defaults are
# probed. Which tiers ran and which were skipped is printed at the end (conftest.py);
# with REQUIRE_SERVICES=1 a missing tier fails the run instead.
#
# When the suite runs on PostgreSQL, the tests that need no service run on SQLite too,
# since SQLite is what `make run` uses: the two passes run side by side (one core each),
# the PostgreSQL one in the background with its output shown when it ends, so the last
# lines are its summary. Tests marked `once` (their outcome does not depend on the
# database backend: S3, fuzzing, settings, source checks, PDFs) run in the PostgreSQL
# pass only.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python

probe() {  # probe postgres|redis URL
  "$PY" - "$1" "$2" <<'PYTHON' 2>/dev/null
import sys
kind, url = sys.argv[1], sys.argv[2]
if kind == "postgres":
    import psycopg2
    psycopg2.connect(url, connect_timeout=2).close()
else:
    import redis
    redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2).ping()
PYTHON
}

if [ -z "${DATABASE_URL:-}" ] && probe postgres "postgres://postgres@127.0.0.1:5432/postgres"; then
  export DATABASE_URL="postgres://postgres@127.0.0.1:5432/cloudmall"
fi
if [ -z "${REDIS_URL:-}" ] && probe redis "redis://127.0.0.1:6379/0"; then
  export REDIS_URL="redis://127.0.0.1:6379/15"
fi

summary="make test: database ${DATABASE_URL:-sqlite (default)}, redis ${REDIS_URL:-none}, REQUIRE_SERVICES=${REQUIRE_SERVICES:-0}"
if [[ "${DATABASE_URL:-}" != postgres* ]]; then
  echo "$summary"
  exec "$PY" -m pytest --create-db "$@"
fi

mkdir -p var
main_log=var/test-main.log
echo "$summary (in the background; its output follows the SQLite pass)"
"$PY" -m pytest --create-db "$@" >"$main_log" 2>&1 &
main_pid=$!
trap 'kill "$main_pid" 2>/dev/null' INT TERM

echo "make test: SQLite pass (tiers without services, not 'once')"
DATABASE_URL="sqlite:///var/test-sqlite.sqlite3" "$PY" -m pytest --create-db -q -p no:cacheprovider \
  -m "not postgres and not redis and not e2e and not once" "$@"
sqlite_status=$?

echo "make test: SQLite pass exited with status $sqlite_status; waiting for the PostgreSQL pass"
wait "$main_pid"
main_status=$?
cat "$main_log"
[ "$sqlite_status" -eq 0 ] || { echo "make test: the SQLite pass failed (status $sqlite_status, above)"; exit "$sqlite_status"; }
exit "$main_status"
