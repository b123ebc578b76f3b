#!/usr/bin/env bash
# bench/pcap_write_bench.sh — speed of writing synthetic biflows as a capture, side by side with
# what a user would do otherwise, on the same rows (NTG_BENCH_ROWS biflows, 10 signed payload
# lengths each, TCP, zero payload, default MSS):
#   ntg.write_pcap_file   SQL, the query's rows -> a pcapng file on the server
#   ntg.write_pcap        SQL, the same capture as a bytea value in memory
#   ntg core              the C writer alone, no PostgreSQL (bench/pcap_write_core.c)
#   libpcap pcap_dump     the same packets, already built and held in memory, written by libpcap
#                         (bench/pcap_dump_floor.c): the writing alone, no building, no checksums
#   scapy                 python3-scapy building the same conversations and wrpcap
#                         (bench/pcap_write_scapy.py), on the first NTG_BENCH_SCAPY_ROWS rows
#   fresh memory          malloc + memset of the capture's size (bench/fresh_memory.c): what any
#                         result of that size held in memory costs at least, as a bytea does
# Each ntg and libpcap figure is the best of NTG_BENCH_RUNS (3) runs, scapy's of one.  Run under
# `flock /tmp/ntg-bench.lock`, as root (the server then runs as `postgres`) or as a user who can
# run initdb.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
# shellcheck source=test/lib/pg_harness.sh
. test/lib/pg_harness.sh
rows=${NTG_BENCH_ROWS:-100000}
scapy_rows=${NTG_BENCH_SCAPY_ROWS:-5000}
runs=${NTG_BENCH_RUNS:-3}
work=${NTG_BENCH_DIR:-/tmp/ntg-bench-pcapw}
port=${NTG_BENCH_PORT:-54332}
rm -rf "$work"; mkdir -p "$work"; chmod 777 "$work"

echo "== building"
ntg_tmp_install
make -s -j2 unit-build >/dev/null
deps=$(make -s print-dep-flags)
# shellcheck disable=SC2086
gcc -O2 -std=gnu11 -Isrc/core -o "$work/pcap_write_core" bench/pcap_write_core.c test/unit/bin/libntgcore.a $deps
# shellcheck disable=SC2086
gcc -O2 -o "$work/pcap_dump_floor" bench/pcap_dump_floor.c $deps
gcc -O2 -o "$work/fresh_memory" bench/fresh_memory.c

echo "== starting a throw-away server"
mkdir -p "$work/pg"
OPENBLAS_NUM_THREADS=1 ntg_server_start "$work/pg" "$port"
trap ntg_server_stop EXIT
psql=("${NTG_PSQL[@]}")
# Ten values per biflow, request/response shaped: requests 40..839 bytes, responses 1..1460 and,
# one in twenty, a large response of up to 8000 bytes (one segment at the default MSS).  About
# 0.7 GB for 100 000 biflows: within the 1 GB of a bytea.
"${psql[@]}" -c "CREATE EXTENSION ntg; SELECT setseed(0.5);
CREATE TABLE rows AS SELECT i, 'class' || (i % 30) AS label,
  ARRAY(SELECT CASE WHEN k % 2 = 1 THEN 40 + floor(random() * 800)
                    WHEN random() < 0.05 THEN -(1 + floor(random() * 8000))
                    ELSE -(1 + floor(random() * 1460)) END
          FROM generate_series(1, 10) k WHERE i > 0)::int[] AS pl
  FROM generate_series(1, $rows) i;" >/dev/null
"${psql[@]}" -c "COPY (SELECT label, pl FROM rows ORDER BY i) TO STDOUT" >"$work/rows.tsv"

# best_of CMD...: the smallest "seconds" (last field) of $runs runs; the other fields of that run
best_of() {
	local best="" line
	for _ in $(seq "$runs"); do
		line=$("$@")
		if [ -z "$best" ] || awk -v a="${line##* }" -v b="${best##* }" 'BEGIN {exit !(a < b)}'; then
			best=$line
		fi
	done
	echo "$best"
}

# sql_seconds SQL: the server-side time of one statement (psql \timing), in seconds
sql_seconds() {
	"${psql[@]}" -c "SET ntg.progress = off" -c '\timing on' -c "$1" | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' | awk '{printf "%.3f\n", $1 / 1000}'
}

echo "== measuring ($rows biflows; best of $runs)"
uptime
file="$work/ntg.pcapng"
stats=$("${psql[@]}" -c "SELECT biflows || ' ' || packets || ' ' || bytes FROM ntg.write_pcap_file('$file', 'SELECT label, pl FROM rows ORDER BY i')")
read -r n_flows n_packets n_bytes <<<"$stats"
t_file=$(best_of sql_seconds "SELECT packets FROM ntg.write_pcap_file('$file', 'SELECT label, pl FROM rows ORDER BY i')")
t_bytea=$(best_of sql_seconds "SELECT length(ntg.write_pcap('SELECT label, pl FROM rows ORDER BY i'))")
core=$(best_of "$work/pcap_write_core" "$work/rows.tsv" "$work/core.pcapng")
cmp -s "$file" "$work/core.pcapng" && same=yes || same=NO
floor=$(best_of "$work/pcap_dump_floor" "$file" "$work/floor.pcap")
mem=$(best_of "$work/fresh_memory" $(( (n_bytes >> 20) + 1 )))
if /usr/bin/python3 -c "import scapy" 2>/dev/null; then
	scapy=$(/usr/bin/python3 bench/pcap_write_scapy.py "$work/rows.tsv" "$work/scapy.pcap" "$scapy_rows")
else
	scapy=""
fi
uptime

row() {	# name biflows packets bytes seconds
	awk -v n="$1" -v f="$2" -v p="$3" -v b="$4" -v s="$5" \
		'BEGIN {printf "| %-37s | %8s | %9s | %7.1f | %7.3f | %11s |\n", n, f, p, b / 1e6, s, p == "-" ? "-" : sprintf("%.0f", p / s / 1e3)}'
}
echo
echo "| writer                                |  biflows |   packets |      MB | seconds | k packets/s |"
echo "| ------------------------------------- | -------: | --------: | ------: | ------: | ----------: |"
row "ntg.write_pcap_file (SQL, file)" "$n_flows" "$n_packets" "$n_bytes" "$t_file"
row "ntg.write_pcap (SQL, bytea)" "$n_flows" "$n_packets" "$n_bytes" "$t_bytea"
read -r cf cp cb cs <<<"$core"
row "ntg core (C, no server, file)" "$cf" "$cp" "$cb" "$cs"
read -r fp fb fs <<<"$floor"
row "libpcap pcap_dump of prebuilt packets" "-" "$fp" "$fb" "$fs"
read -r mb ma mf <<<"$mem"
row "fresh memory of that size (floor)" "-" "-" "$mb" "$mf"
if [ -n "$scapy" ]; then
	read -r sf sp sb ss <<<"$scapy"
	row "scapy 2.5 build + wrpcap" "$sf" "$sp" "$sb" "$ss"
else
	echo "| scapy: python3-scapy is not installed | | | | | |"
fi
echo
echo "core and SQL captures byte-identical: $same"
echo "the same memory written a second time: $ma s"

