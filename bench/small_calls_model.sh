# shellcheck shell=bash
# bench/small_calls_model.sh — sourced by first_call.sh and history_reuse.sh: the llama whose small
# calls they time, in a throw-away server of its own.
#
#   small_calls_model SRV PORT
#
# Starts the server in SRV on PORT (test/lib/pg_harness.sh, sourced first; one BLAS thread: one
# core, as in the other benchmarks) with timed(q) (bench/timed.sql), loads the efficiency
# protocol's rows (5 classes x 500 rows of $NTG_SHARED_DATA's nDPI flows) into the table eff, and
# trains 'fc': the llama at its default shape for one epoch, without dropout or token noise as that
# protocol trains (the default's token noise spreads a one-epoch model's rows over many more
# distinct histories, and so costs more decode steps per row).
small_calls_model() {
	local rows
	rows=$(mktemp /tmp/ntg-fc-rows.XXXXXX.tsv)
	/usr/bin/python3 bench/make_rows.py efficiency --flows "$NTG_SHARED_DATA/ndpi/flows.tsv" \
		--out "$rows" --classes 5 --rows 500 --seed 1
	export OPENBLAS_NUM_THREADS=1
	ntg_server_start "$1" "$2" ntgbench >/dev/null
	"${NTG_PSQL[@]}" -q -f bench/timed.sql
	"${NTG_PSQL[@]}" >/dev/null <<SQL
SET ntg.progress = off;
CREATE EXTENSION ntg;
CREATE TABLE eff (label text, pl integer[]);
CREATE TEMP TABLE raw (label text, pl text);
\\copy raw FROM '$rows'
INSERT INTO eff SELECT label, ('{' || pl || '}')::integer[] FROM raw;
SELECT ntg.train('fc', 'llama', 'SELECT label, pl FROM eff', '{"epochs": 1, "seed": 1, "dropout": 0, "token_noise": 0}');
SQL
	rm -f "$rows"
}
