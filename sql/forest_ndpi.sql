-- The Random Forest and the baselines on the real nDPI benchmark (docs/data.md); skipped,
-- saying so, when the shared data is absent (expected/forest_ndpi_1.out).
SET ntg.progress = off;
\getenv shared NTG_SHARED_DATA
\if :{?shared}
\else
\set shared ''
\endif
SELECT :'shared' <> '' AS have_data \gset
\if :have_data
\set flows :shared '/ndpi/flows.tsv'
\set recommended :shared '/ndpi/recommended_classes_min30.txt'
CREATE TABLE ndpi_raw (pcap text, l4 text, cli_ip text, cli_port int, srv_ip text, srv_port int,
	pkts int, payload_pkts int, up bigint, down bigint, first10 text, upstream text,
	label_app text, label_master text, debian text);
COPY ndpi_raw FROM :'flows' WITH (FORMAT text, HEADER true);
CREATE TABLE rec_raw (line text);
COPY rec_raw FROM :'recommended' WITH (FORMAT csv, DELIMITER E'\x01', QUOTE E'\x02');
CREATE TABLE ndpi AS
SELECT label_app AS label, string_to_array(first10, ',')::int[] AS pl
FROM ndpi_raw
WHERE payload_pkts > 0 AND first10 <> ''
  AND pcap !~* 'fuzz|badpackets|garbage|malformed|crash|ossfuzz'
  AND label_app IN (SELECT split_part(line, E'\t', 1) FROM rec_raw WHERE line NOT LIKE '#%');
SELECT count(*) AS flows, count(DISTINCT label) AS classes,
	   max((SELECT max(abs(v)) FROM unnest(pl) v)) > 32767 AS beyond_smallint
FROM ndpi;
CREATE TABLE parts AS SELECT * FROM ntg.split('SELECT label, pl FROM ndpi', 0.2, 0);
SELECT count(*) FILTER (WHERE is_test) AS test_rows, count(*) FILTER (WHERE NOT is_test) AS train_rows FROM parts;
SELECT model, parameters > 0 AS trained FROM ntg.rf_train('ndpi_rf', 'SELECT label, pl FROM parts WHERE NOT is_test', '{"seed": 1}');
-- Parity with scikit-learn is measured by bench/rf_parity.py; here a floor that catches a broken forest.
SELECT f1 > 0.7 AS macro_f1_above_0_7 FROM ntg.rf_evaluate('ndpi_rf', 'SELECT label, pl FROM parts WHERE is_test')
WHERE kind = 'macro avg';
SELECT count(*) FILTER (WHERE ntg.rf_predict('ndpi_rf', pl) = label)::float8 / count(*) > 0.9 AS train_accuracy_above_0_9
FROM parts WHERE NOT is_test;
-- SMOTE and Fast Retransmit over 30 classes: counts, classes and the sign/length rules.
CREATE TABLE synth AS SELECT * FROM ntg.smote('SELECT label, pl FROM parts WHERE NOT is_test', 200, 1, top_up => true);
-- every class below 200 training rows is topped up to exactly 200
SELECT count(DISTINCT label) AS topped_up_classes, min(n) AS min_class_rows, max(n) AS max_class_rows
FROM (SELECT label, count(*) + (SELECT count(*) FROM parts p WHERE NOT is_test AND p.label = s.label) AS n
	  FROM synth s GROUP BY label) x;
SELECT count(*) FILTER (WHERE cardinality(pl) NOT BETWEEN 1 AND 10) AS bad_lengths,
	   count(*) FILTER (WHERE 0 = ANY(pl)) AS zero_values
FROM synth;
SELECT count(*) AS fr_rows, count(*) FILTER (WHERE cardinality(pl) NOT BETWEEN 1 AND 10) AS bad_lengths
FROM ntg.fast_retransmit('SELECT label, pl FROM parts WHERE NOT is_test', 100, 1, top_up => false);
\else
\echo 'skipped: ../shared/data is absent (set NTG_SHARED_DATA)'
\endif
