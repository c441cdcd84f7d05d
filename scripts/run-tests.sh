#!/usr/bin/env bash
# `make test`: point the tiers at the services this machine can reach, then run pytest.
# DATABASE_URL / REDIS_URL from the environment win; otherwise the local defaults are
# probed. Which tiers ran and which were skipped is printed at the end of each pass
# (conftest.py); with REQUIRE_SERVICES=1 a missing tier fails the run instead.
#
# Without PostgreSQL: one pytest run, everything on SQLite.
#
# With PostgreSQL the whole suite runs on it, and the tests that need no service run on
# SQLite too, since SQLite is what `make run` uses. Three pytest processes run side by
# side (docs/testing.md, "Passes"), each with a database and a Redis database of its own:
#   sqlite    the service-free tests (not postgres, redis, e2e, scan or once) on SQLite;
#   apps      the apps' own tests (pytest.ini's testpaths but mall and tests) on PostgreSQL;
#   platform  mall/ and tests/ (e2e, faults, scanners) on PostgreSQL.
# Each pass's output goes to var/test-<pass>.log and is printed when all have ended;
# the last line says which passes failed. Tests marked `once` (their outcome does not
# depend on the database backend: S3, fuzzing, settings, source checks, PDFs) run on
# PostgreSQL only. Arguments (a path, -k, -x …) run one PostgreSQL pass with them, beside
# the SQLite pass.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
PLATFORM_PATHS=(mall tests)

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

echo "make test: database ${DATABASE_URL:-sqlite (default)}, redis ${REDIS_URL:-none}, REQUIRE_SERVICES=${REQUIRE_SERVICES:-0}"
if [[ "${DATABASE_URL:-}" != postgres* ]]; then
  exec "$PY" -m pytest --create-db "$@"
fi

with_database_suffix() {  # postgres://…/name?options -> postgres://…/name_SUFFIX?options
  local base=${1%%\?*}
  echo "${base}_$2${1#"$base"}"
}

other_redis_database() {  # redis://…/15 -> redis://…/14, redis://host:6379 -> …/1: another database
  local url=$1 number=${1##*/}
  if [ -z "$url" ]; then echo ""
  elif [[ "$number" =~ ^[0-9]+$ ]]; then echo "${url%/*}/$(( number > 0 ? number - 1 : 1 ))"
  else echo "${url%/}/1"
  fi
}

mkdir -p var
names=() pids=()
start() {  # start NAME ENV... -- PYTEST ARGS...: one pass in the background
  local name=$1; shift
  local envs=()
  while [ "$1" != "--" ]; do envs+=("$1"); shift; done
  shift
  env "${envs[@]}" "$PY" -m pytest --create-db -p no:cacheprovider --durations=10 "$@" >"var/test-$name.log" 2>&1 &
  names+=("$name") pids+=("$!")
  echo "make test: $name pass started (var/test-$name.log)"
}
trap 'kill "${pids[@]}" 2>/dev/null' INT TERM

start sqlite DATABASE_URL="sqlite:///var/test-sqlite.sqlite3" -- \
  -q -m "not postgres and not redis and not e2e and not scan and not once" "$@"
if [ $# -gt 0 ]; then
  start postgres DATABASE_URL="$DATABASE_URL" -- "$@"
else
  read -ra testpaths <<<"$(sed -n 's/^testpaths *= *//p' pytest.ini)"
  apps=()
  for path in "${testpaths[@]}"; do
    [[ " ${PLATFORM_PATHS[*]} " == *" $path "* ]] || apps+=("$path")
  done
  start apps DATABASE_URL="$(with_database_suffix "$DATABASE_URL" apps)" \
    REDIS_URL="$(other_redis_database "${REDIS_URL:-}")" -- "${apps[@]}"
  start platform DATABASE_URL="$DATABASE_URL" -- "${PLATFORM_PATHS[@]}"
fi

failed=()
for i in "${!pids[@]}"; do
  wait "${pids[$i]}" || failed+=("${names[$i]}")
done
for name in "${names[@]}"; do
  echo
  echo "==================== make test: the $name pass (var/test-$name.log) ===================="
  cat "var/test-$name.log"
done
echo
if [ ${#failed[@]} -gt 0 ]; then
  echo "make test: FAILED: the ${failed[*]} pass(es); see each one's output above"
  exit 1
fi
echo "make test: all passes (${names[*]}) succeeded"
