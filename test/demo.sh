#!/usr/bin/env bash
# test/demo.sh — the README's first quick-start command: install what ntg needs, build it, start a
# throw-away PostgreSQL in ./tmp_demo with ntg installed (test/lib/pg_harness.sh), and run the main
# job (test/demo.sql: import the bundled capture, train a generator, compare, classify, retrain in a
# background job).  The server preloads ntg and pg_cron, which background jobs and their schedules
# need (docs/jobs.md).
# As root the server runs as the `postgres` user in a copy of the tree under /tmp (initdb refuses root).
# The server is stopped at the end; NTG_DEMO_KEEP=1 leaves it running and prints how to connect.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
# shellcheck source=test/deps.sh
. test/deps.sh
# shellcheck disable=SC2086
ntg_install_packages $NTG_BUILD_PACKAGES postgresql-15-cron

# shellcheck source=test/lib/pg_harness.sh
. test/lib/pg_harness.sh
# As root, the server runs from a copy of the tree: keep that copy when the server is to stay up.
[ "${NTG_DEMO_KEEP:-0}" = 1 ] && export NTG_KEEP_WORK=1
NTG_PASS_ENV=NTG_DEMO_KEEP ntg_rerun_as_postgres test/demo.sh

echo "== building ntg"
ntg_tmp_install
# background jobs run in ntg's own workers and schedules in pg_cron: both load at server start
export NTG_SERVER_OPTS="${NTG_SERVER_OPTS:-} -c shared_preload_libraries=ntg,pg_cron \
	-c cron.database_name=ntgdemo -c cron.use_background_workers=on"
ntg_server_start "$repo/tmp_demo" 54330 ntgdemo
[ "${NTG_DEMO_KEEP:-0}" = 1 ] || trap ntg_server_stop EXIT
echo "== running test/demo.sql"
"$NTG_BINDIR/psql" -X -h "$NTG_PGHOST" -p "$NTG_PGPORT" -d ntgdemo -v ON_ERROR_STOP=1 \
	-v repo="$repo" -f test/demo.sql
if [ "${NTG_DEMO_KEEP:-0}" = 1 ]; then
	echo "server left running: $NTG_BINDIR/psql -h $NTG_PGHOST -p $NTG_PGPORT ntgdemo"
	echo "stop it with: bash $repo/test/lib/pg_harness.sh stop $NTG_PGHOST"
fi
