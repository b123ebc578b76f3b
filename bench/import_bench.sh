#!/usr/bin/env bash
# bench/import_bench.sh — capture import speed, end to end into a table, side by side with the
# floor (a bare libpcap read loop, bench/pcap_loop.c) and tshark extracting conversations
# (tshark -q -z conv,tcp -z conv,udp), on the same bytes:
#   ndpi: the 543 captures of ndpi/pcap of the benchmark data, docs/data.md (tshark reads them merged into one pcapng)
#   big:  a >= 1 M-packet Ethernet pcap made by bench/make_big_capture.py in /tmp (not committed)
#   parts: the big capture cut into 4 files (editcap -c), for many files in one call
# Also the ntg core alone (bench/ntg_flows.c, no PostgreSQL), a plain read of the file, imports
# with and without background workers (ntg.import_workers), and ntg.import_pcaps with 0, 1 and 2
# workers, and COPY FROM of the imported biflows from a binary file (what storing those rows costs
# PostgreSQL alone).  Each figure is the best of NTG_BENCH_RUNS (3) runs, tshark's of one; files are read
# once before timing (page cache).  Run as root (the server then runs as `postgres`) or as a user
# who can run initdb.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
# shellcheck source=test/lib/pg_harness.sh
. test/lib/pg_harness.sh
ntg_shared_data
ndpi=$NTG_SHARED_DATA/ndpi/pcap
[ -n "$NTG_SHARED_DATA" ] && [ -d "$ndpi" ] || { echo "skipped: $ndpi is absent (set NTG_SHARED_DATA)"; exit 0; }
runs=${NTG_BENCH_RUNS:-3}
work=${NTG_BENCH_DIR:-/tmp/ntg-bench}
port=${NTG_BENCH_PORT:-54331}
mkdir -p "$work"

load_start=$(cut -d' ' -f1-3 /proc/loadavg)
echo "== building"
ntg_tmp_install
make -s -j2 unit-build >/dev/null
deps=$(make -s print-dep-flags)
# shellcheck disable=SC2086
gcc -O2 -o "$work/pcap_loop" bench/pcap_loop.c $deps
# shellcheck disable=SC2086
gcc -O2 -std=gnu11 -Isrc/core -o "$work/ntg_flows" bench/ntg_flows.c test/unit/bin/libntgcore.a $deps

echo "== preparing captures"
big=$work/big.pcap
if [ ! -s "$big" ]; then
	/usr/bin/python3 bench/make_big_capture.py "$big" 1000000 "$ndpi"
fi
# tshark reads the nDPI set as one pcapng (543 tshark starts would dominate its time): each file is
# converted by editcap (which keeps what it can read of a damaged file), then merged.
merged=$work/ndpi_merged.pcapng
if [ ! -s "$merged" ]; then
	rm -rf "$work/ndpi_ng"; mkdir -p "$work/ndpi_ng"
	for f in "$ndpi"/*; do
		editcap -F pcapng "$f" "$work/ndpi_ng/$(basename "$f").pcapng" >/dev/null 2>&1 || true
	done
	mergecap -F pcapng -w "$merged" "$work/ndpi_ng"/*
fi
parts=$work/parts
if [ ! -s "$parts/part_00000.pcap" ]; then
	rm -rf "$parts"; mkdir -p "$parts"
	n=$(capinfos -Mc "$big" | awk '/Number of packets/ {print $NF}')
	editcap -F pcap -c $(( (n + 3) / 4 )) "$big" "$parts/part.pcap" >/dev/null
	for f in "$parts"/part_*; do mv "$f" "$parts/$(basename "$f" | sed 's/_\([0-9]*\)_.*/_\1.pcap/')"; done
fi
chmod 755 "$work" "$parts"; chmod 644 "$big" "$merged" "$parts"/*
cat "$ndpi"/* "$big" "$merged" "$parts"/* >/dev/null

echo "== starting a throw-away server"
# (stops a server left in $work/pg by a killed earlier run first); one BLAS thread
OPENBLAS_NUM_THREADS=1 ntg_server_start "$work/pg" "$port"
trap ntg_server_stop EXIT
psql=("${NTG_PSQL[@]}")
"${psql[@]}" -c "CREATE EXTENSION ntg; SET client_min_messages = error;
	CREATE TABLE bench_flows (LIKE ntg.biflows INCLUDING ALL);
	-- the same table with a no-op statement trigger, which sends import_pcap down its generic
	-- INSERT ... SELECT path (the only path before the batched insert)
	CREATE TABLE bench_flows_generic (LIKE ntg.biflows INCLUDING ALL);
	CREATE FUNCTION bench_noop() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NULL; END';
	CREATE TRIGGER noop AFTER INSERT ON bench_flows_generic FOR EACH STATEMENT EXECUTE FUNCTION bench_noop()"

now() { date +%s.%N; }
# best_of CMD...: the shortest wall time of $runs runs (setup_cmd, if set, runs untimed before each)
best_of() {
	local best=999999 t0 t1 i
	for i in $(seq "$runs"); do
		[ -n "${setup_cmd:-}" ] && eval "$setup_cmd"
		t0=$(now); "$@" >"$work/last.out" 2>&1; t1=$(now)
		best=$(echo "$t1 - $t0" | bc -l | awk -v b="$best" '{print ($1 < b) ? $1 : b}')
	done
	echo "$best"
}

results=$work/results.tsv
: >"$results"
row() { printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" >>"$results"; }

ndpi_bytes=$(cat "$ndpi"/* | wc -c)
big_bytes=$(stat -c %s "$big")

echo "== ndpi (543 files)"
t=$(best_of "$work/pcap_loop" "$ndpi"/*); p=$(awk '{print $1}' "$work/last.out")
row ndpi "libpcap read loop (floor)" "$p" "$ndpi_bytes" "$t"
t=$(best_of "$work/ntg_flows" -q "$ndpi"/*); p=$(awk '/packets,/ {print $1}' "$work/last.out")
row ndpi "ntg core only (no PostgreSQL)" "$p" "$ndpi_bytes" "$t"
import_ndpi="SET client_min_messages = error; SET ntg.progress = off;
DO \$\$ DECLARE f text; BEGIN
  FOR f IN SELECT pg_ls_dir('$ndpi') ORDER BY 1 LOOP
    BEGIN PERFORM ntg.import_pcap('$ndpi/' || f, dataset => f, target => 'bench_flows');
    EXCEPTION WHEN feature_not_supported THEN NULL; END;
  END LOOP; END \$\$;"
setup_cmd='"${psql[@]}" -c "TRUNCATE bench_flows"'
t=$(best_of "${psql[@]}" -c "$import_ndpi"); unset setup_cmd
row ndpi "ntg.import_pcap into a table" "$p" "$ndpi_bytes" "$t"
setup_cmd='"${psql[@]}" -c "TRUNCATE bench_flows_generic"'
t=$(best_of "${psql[@]}" -c "${import_ndpi//bench_flows/bench_flows_generic}"); unset setup_cmd
row ndpi "ntg.import_pcap, generic INSERT path (trigger)" "$p" "$ndpi_bytes" "$t"
for w in 0 1 2; do
	setup_cmd='"${psql[@]}" -c "TRUNCATE bench_flows"'
	t=$(best_of "${psql[@]}" -c "SET ntg.progress = off; SET client_min_messages = error; SET ntg.import_workers = $w;
		SELECT sum(packets) FROM ntg.import_pcaps('$ndpi/*', target => 'bench_flows')"); unset setup_cmd
	row ndpi "ntg.import_pcaps, one call, $w workers" "$p" "$ndpi_bytes" "$t"
done
runs_saved=$runs; runs=1
t=$(best_of tshark -q -z conv,tcp -z conv,udp -r "$merged")
row ndpi "tshark -z conv,tcp -z conv,udp (merged pcapng)" "$(capinfos -Mc "$merged" | awk '/Number of packets/ {print $NF}')" "$(stat -c %s "$merged")" "$t"
runs=$runs_saved

echo "== big ($(capinfos -Mc "$big" | awk '/Number of packets/ {print $NF}') packets)"
t=$(best_of "$work/pcap_loop" "$big"); p=$(awk '{print $1}' "$work/last.out")
row big "libpcap read loop (floor)" "$p" "$big_bytes" "$t"
t=$(best_of dd if="$big" of=/dev/null bs=1M)
row big "dd bs=1M (the file's bytes, nothing else)" "$p" "$big_bytes" "$t"
t=$(best_of "$work/ntg_flows" -q "$big")
row big "ntg core only (no PostgreSQL)" "$p" "$big_bytes" "$t"
setup_cmd='"${psql[@]}" -c "TRUNCATE bench_flows"'
t=$(best_of "${psql[@]}" -c "SET ntg.progress = off; SET client_min_messages = error; SELECT packets, biflows FROM ntg.import_pcap('$big', dataset => 'big', target => 'bench_flows')")
unset setup_cmd
row big "ntg.import_pcap into a table (read by a worker)" "$p" "$big_bytes" "$t"
setup_cmd='"${psql[@]}" -c "TRUNCATE bench_flows"'
t=$(best_of "${psql[@]}" -c "SET ntg.progress = off; SET client_min_messages = error; SET ntg.import_workers = 0; SELECT packets, biflows FROM ntg.import_pcap('$big', dataset => 'big', target => 'bench_flows')")
unset setup_cmd
row big "ntg.import_pcap into a table, one process" "$p" "$big_bytes" "$t"
# What storing those biflows costs PostgreSQL alone: the rows the import just wrote, saved to a
# binary COPY file and loaded back with COPY FROM (no capture read at all) into the same table and
# indexes; identity and imported_at take their defaults, as in an import.
cols=$("${psql[@]}" -c "SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) FROM pg_attribute
	WHERE attrelid = 'bench_flows'::regclass AND attnum > 0 AND NOT attisdropped
	  AND attname NOT IN ('biflow_id', 'imported_at')")
"${psql[@]}" -c "\\copy bench_flows ($cols) TO '$work/biflows.copy' (FORMAT binary)"
chmod 644 "$work/biflows.copy"
setup_cmd='"${psql[@]}" -c "TRUNCATE bench_flows"'
t=$(best_of "${psql[@]}" -c "COPY bench_flows ($cols) FROM '$work/biflows.copy' (FORMAT binary)")
unset setup_cmd
row big "COPY FROM of those biflows (binary file, no capture)" "$p" "$big_bytes" "$t"
# With idle_timeout 1 s, biflows end while the capture is read (it spans 10 s), so the backend
# inserts while the worker reads; with the defaults every biflow ends with the capture.
for w in 1 0; do
	setup_cmd='"${psql[@]}" -c "TRUNCATE bench_flows"'
	t=$(best_of "${psql[@]}" -c "SET ntg.progress = off; SET client_min_messages = error; SET ntg.import_workers = $w; SELECT packets, biflows FROM ntg.import_pcap('$big', dataset => 'big', target => 'bench_flows', idle_timeout => '1 s')")
	unset setup_cmd
	row big "import_pcap, idle_timeout 1 s, $([ $w = 1 ] && echo "read by a worker" || echo "one process")" "$p" "$big_bytes" "$t"
done
setup_cmd='"${psql[@]}" -c "TRUNCATE bench_flows_generic"'
t=$(best_of "${psql[@]}" -c "SET ntg.progress = off; SET client_min_messages = error; SET ntg.import_workers = 0; SELECT packets, biflows FROM ntg.import_pcap('$big', dataset => 'big', target => 'bench_flows_generic')")
unset setup_cmd
row big "ntg.import_pcap, generic INSERT path (trigger)" "$p" "$big_bytes" "$t"
t=$(best_of "${psql[@]}" -c "SET ntg.progress = off; SET client_min_messages = error; SELECT count(*) FROM ntg.read_pcap('$big')")
row big "ntg.read_pcap, rows counted, not stored" "$p" "$big_bytes" "$t"
runs=1
t=$(best_of tshark -q -z conv,tcp -z conv,udp -r "$big")
row big "tshark -z conv,tcp -z conv,udp" "$p" "$big_bytes" "$t"
biflows=$("${psql[@]}" -c "SELECT count(*) FROM bench_flows")
runs=$runs_saved

echo "== parts (4 files)"
parts_bytes=$(cat "$parts"/*.pcap | wc -c)
t=$(best_of "$work/pcap_loop" "$parts"/*.pcap); p=$(awk '{print $1}' "$work/last.out")
row parts "libpcap read loop (floor)" "$p" "$parts_bytes" "$t"
for w in 0 1 2; do
	setup_cmd='"${psql[@]}" -c "TRUNCATE bench_flows"'
	t=$(best_of "${psql[@]}" -c "SET ntg.progress = off; SET client_min_messages = error; SET ntg.import_workers = $w;
		SELECT sum(packets) FROM ntg.import_pcaps('$parts/*.pcap', target => 'bench_flows')"); unset setup_cmd
	row parts "ntg.import_pcaps, one call, $w workers" "$p" "$parts_bytes" "$t"
done

echo
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'); best of $runs_saved runs (tshark: 1)"
echo "load average: $load_start at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end"
echo "big capture: $biflows biflows imported"
awk -F'\t' 'BEGIN {printf "| %-5s | %-52s | %9s | %7s | %7s | %9s | %7s | %8s |\n", "set", "reader", "packets", "MB", "s", "Mpkt/s", "MB/s", "x floor";
	print "|-------|------------------------------------------------------|-----------|---------|---------|-----------|---------|----------|"}
	{ if ($2 ~ /floor/) floor[$1] = $5;
	  printf "| %-5s | %-52s | %9d | %7.1f | %7.3f | %9.2f | %7.1f | %8.2f |\n", $1, $2, $3, $4 / 1e6, $5, $3 / $5 / 1e6, $4 / $5 / 1e6, $5 / floor[$1] }' "$results"
