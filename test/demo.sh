#!/usr/bin/env bash
# test/demo.sh — the README's first quick-start command: install what ntg needs, build it, start a
# throw-away PostgreSQL in ./tmp_demo with ntg installed, and run the main job (test/demo.sql:
# import the bundled capture, show the biflows, and the steps later features add).
# As root the server runs as the `postgres` user in a copy of the tree (initdb refuses root).
# The server is stopped at the end; NTG_DEMO_KEEP=1 leaves it running and prints how to connect.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
# shellcheck source=test/deps.sh
. test/deps.sh
# shellcheck disable=SC2086
ntg_install_packages $NTG_BUILD_PACKAGES

if [ "$(id -u)" -eq 0 ]; then
	work=/tmp/ntg-demo
	rm -rf "$work"; mkdir -p "$work"
	tar -C "$repo" --exclude=./.git --exclude=./tmp_install --exclude=./tmp_check \
		--exclude=./tmp_pgtap --exclude=./tmp_demo --exclude=./tmp_logs -cf - . | tar -C "$work" -xf -
	chown -R postgres: "$work"
	exec runuser -u postgres -- env NTG_SKIP_DEPS=1 NTG_DEMO_KEEP="${NTG_DEMO_KEEP:-0}" bash "$work/test/demo.sh"
fi

echo "== building ntg"
make -s -j2 tmp_install >/dev/null
bindir=$(make -s print-tmp-bindir)
demo="$repo/tmp_demo"
"$bindir/pg_ctl" -D "$demo/data" -m fast stop >/dev/null 2>&1 || true
rm -rf "$demo"; mkdir -p "$demo"
"$bindir/initdb" -D "$demo/data" --no-locale -E UTF8 -A trust >/dev/null
"$bindir/pg_ctl" -D "$demo/data" -w -l "$demo/server.log" \
	-o "-k $demo -c listen_addresses= -p 54330" start >/dev/null
[ "${NTG_DEMO_KEEP:-0}" = 1 ] || trap '"$bindir/pg_ctl" -D "$demo/data" -m fast stop >/dev/null' EXIT
"$bindir/createdb" -h "$demo" -p 54330 ntgdemo
echo "== running test/demo.sql"
"$bindir/psql" -X -h "$demo" -p 54330 -d ntgdemo -v ON_ERROR_STOP=1 \
	-v repo="$repo" -f test/demo.sql
if [ "${NTG_DEMO_KEEP:-0}" = 1 ]; then
	echo "server left running: $bindir/psql -h $demo -p 54330 ntgdemo"
fi
