#!/bin/sh
# First start on an empty volume: on a temporary server bound to 127.0.0.1 only, create the
# admin user (INFLUXDB_ADMIN_USER, INFLUXDB_ADMIN_PASSWORD), the database INFLUXDB_DB and a
# user INFLUXDB_USER (password INFLUXDB_USER_PASSWORD) with ALL on that database alone. A
# failure removes what was made, so the next start tries again. Runs as user influxdb.
set -eu
meta=${INFLUXDB_META_DIR:-/var/lib/influxdb/meta}
if [ ! -s "$meta/meta.db" ]; then
  : "${INFLUXDB_ADMIN_PASSWORD:?INFLUXDB_ADMIN_PASSWORD must be set for the first start}"
  admin=${INFLUXDB_ADMIN_USER:-admin}
  port=18086
  INFLUXDB_HTTP_BIND_ADDRESS=127.0.0.1:$port "$@" >/tmp/influxd-init.log 2>&1 &
  pid=$!
  fail() {
    echo "influxdb-entrypoint: $1" >&2; tail -5 /tmp/influxd-init.log >&2
    kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true
    rm -rf "$meta" "${INFLUXDB_DATA_DIR:?}" "${INFLUXDB_DATA_WAL_DIR:?}"; exit 1
  }
  i=0
  until curl -sf "http://127.0.0.1:$port/ping" >/dev/null; do
    kill -0 "$pid" 2>/dev/null || fail "the temporary server exited"
    i=$((i + 1)); [ $i -le 300 ] || fail "the temporary server did not answer in 30 s"
    sleep 0.1
  done
  # InfluxQL string literals: a quote in a password would end it; such passwords are refused
  for secret in "$INFLUXDB_ADMIN_PASSWORD" "${INFLUXDB_USER_PASSWORD:-}"; do
    case $secret in *"'"*|*'\'*) fail "passwords must not contain ' or \\" ;; esac
  done
  q() { curl -sf -u "$admin:$INFLUXDB_ADMIN_PASSWORD" "http://127.0.0.1:$port/query" \
          --data-urlencode "q=$1" >/dev/null || fail "failed: ${2:-$1}"; }
  # the first user may be created without credentials, and must be an admin
  curl -sf "http://127.0.0.1:$port/query" --data-urlencode \
    "q=CREATE USER \"$admin\" WITH PASSWORD '$INFLUXDB_ADMIN_PASSWORD' WITH ALL PRIVILEGES" \
    >/dev/null || fail "could not create the admin user $admin"
  if [ -n "${INFLUXDB_DB:-}" ]; then
    q "CREATE DATABASE \"$INFLUXDB_DB\""
    if [ -n "${INFLUXDB_USER:-}" ]; then
      : "${INFLUXDB_USER_PASSWORD:?INFLUXDB_USER_PASSWORD must be set with INFLUXDB_USER}"
      q "CREATE USER \"$INFLUXDB_USER\" WITH PASSWORD '$INFLUXDB_USER_PASSWORD'" \
        "CREATE USER $INFLUXDB_USER"
      q "GRANT ALL ON \"$INFLUXDB_DB\" TO \"$INFLUXDB_USER\""
    fi
  fi
  kill "$pid"; wait "$pid" || true
  echo "influxdb-entrypoint: initialised (admin $admin, database ${INFLUXDB_DB:-none}, user ${INFLUXDB_USER:-none})"
fi
exec "$@"
