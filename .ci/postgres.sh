#!/usr/bin/env bash
# Install and start a local PostgreSQL for the store tests; prints the URL to use, or nothing on failure.
set -uo pipefail
{
  command -v pg_lsclusters >/dev/null || {
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql
  }
  ver=$(ls /usr/lib/postgresql | sort -n | tail -n 1)
  pg_lsclusters | grep -q "^$ver  *main" || pg_createcluster "$ver" main
  pg_ctlcluster "$ver" main start || true
  for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 && break; sleep 1; done
  su postgres -c "psql -q -c \"ALTER USER postgres PASSWORD 'nines'\""
  su postgres -c "psql -q -tc \"SELECT 1 FROM pg_database WHERE datname='nines_test'\"" | grep -q 1 \
    || su postgres -c "createdb nines_test"
} >&2 || exit 0
pg_isready -q -h 127.0.0.1 && echo "postgresql+psycopg://postgres:nines@127.0.0.1:5432/nines_test"
