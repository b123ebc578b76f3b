#!/usr/bin/python3
"""capture_v010.t — a database whose extension is still at 0.1.0 runs this library: its read_pcap
and import_pcap (fewer arguments, 17 columns) must work, on both insert paths, and give the rows
of 0.2.0's functions called with the same defaults; ALTER EXTENSION ntg UPDATE then keeps the rows
with their exact payload lengths."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import taplib  # noqa: E402

tap = taplib.Tap()
repo = os.environ.get("NTG_REPO", ".")
cap = os.path.join(os.path.abspath(repo), "test", "captures", "demo.pcapng").replace("'", "''")
COLS = ("protocol, client_ip, client_port, server_ip, server_port, first_seen, last_seen, packets_up, "
        "packets_down, bytes_up, bytes_down, payload_bytes_up, payload_bytes_down, payload_packets, pl, sni")
taplib.psql("DROP DATABASE IF EXISTS ntg_v010")
taplib.psql("CREATE DATABASE ntg_v010")
try:
    taplib.psql_db("ntg_v010", "CREATE EXTENSION ntg VERSION '0.1.0'")
    old = taplib.psql_db("ntg_v010", "SELECT %s FROM ntg.read_pcap('%s') ORDER BY first_seen, client_port" % (COLS, cap))
    new = taplib.psql("SELECT %s FROM ntg.read_pcap('%s') ORDER BY first_seen, client_port" % (COLS, cap))
    tap.ok(old == new and old.count("\n") == 12, "0.1.0's read_pcap returns 0.2.0's rows (12 biflows)", old + "\n--\n" + new)
    natts = taplib.psql_db("ntg_v010", "SELECT count(*) FROM unnest((SELECT proargnames FROM pg_proc "
                           "WHERE proname = 'read_pcap' AND pronamespace = 'ntg'::regnamespace LIMIT 1)) n").strip()
    tap.ok(natts == "22", "0.1.0's read_pcap keeps its 5 arguments and 17 columns", natts)
    batched = taplib.psql_db("ntg_v010", "SELECT biflows FROM ntg.import_pcap('%s', dataset => 'b')" % cap).strip()
    taplib.psql_db("ntg_v010", "CREATE TABLE t (LIKE ntg.biflows INCLUDING ALL); "
                   "CREATE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NEW; END'; "
                   "CREATE TRIGGER t BEFORE INSERT ON t FOR EACH ROW EXECUTE FUNCTION f()")
    generic = taplib.psql_db("ntg_v010", "SELECT biflows FROM ntg.import_pcap('%s', dataset => 'g', target => 't')" % cap).strip()
    same = taplib.psql_db("ntg_v010", "SELECT count(*) FROM (SELECT %s FROM ntg.biflows EXCEPT SELECT %s FROM t) d" % (COLS, COLS)).strip()
    tap.ok(batched == "12" and generic == "12" and same == "0",
           "0.1.0's import_pcap: batched and generic paths, the same 12 biflows", "%s %s %s" % (batched, generic, same))
    # The update keeps every imported row and its exact values: pl becomes 0.1.0's pl_full.
    taplib.psql_db("ntg_v010", "UPDATE ntg.biflows SET pl = '{32767,-20}', pl_full = '{40000,-20}' "
                   "WHERE biflow_id = (SELECT min(biflow_id) FROM ntg.biflows)")
    taplib.psql_db("ntg_v010", "ALTER EXTENSION ntg UPDATE")
    kept = taplib.psql_db("ntg_v010", "SELECT count(*), count(*) FILTER (WHERE pl = '{40000,-20}'::int[]), "
                          "format_type(atttypid, NULL) FROM ntg.biflows, pg_attribute "
                          "WHERE attrelid = 'ntg.biflows'::regclass AND attname = 'pl' GROUP BY 3").strip()
    gone = taplib.psql_db("ntg_v010", "SELECT count(*) FROM pg_attribute WHERE attrelid = 'ntg.biflows'::regclass "
                          "AND attname = 'pl_full' AND NOT attisdropped").strip()
    tap.ok(kept == "12|1|integer[]" and gone == "0",
           "ALTER EXTENSION ntg UPDATE keeps the 12 biflows, pl becomes integer[] with pl_full's exact values",
           kept + " / pl_full columns: " + gone)
    joined = taplib.psql_db("ntg_v010", "SELECT count(*) FROM ntg.biflows b JOIN ntg.read_pcap('%s') r "
                            "USING (client_ip, client_port, server_ip, server_port, pl)" % cap).strip()
    tap.ok(joined == "11", "updated rows join read_pcap's rows on pl (all but the edited one)", joined)
except RuntimeError as e:
    tap.ok(False, "0.1.0's functions run", str(e))
finally:
    taplib.psql("DROP DATABASE IF EXISTS ntg_v010")
sys.exit(tap.done())
