#!/usr/bin/python3
"""blas_lazy.t — ntg.so opens the CBLAS (OpenBLAS) at a backend's first matrix product, not when
the library loads: a new backend that samples one row at a time never maps it (loading it costs a
new backend ~5 ms), one that trains maps it, and the rows are the same either way."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import taplib  # noqa: E402

tap = taplib.Tap()
ok = tap.ok
sql = taplib.psql

# how many mappings of a BLAS library (or of ntg.so) this backend has
MAPS = ("SELECT '{0} ' || count(*) FROM regexp_split_to_table(pg_read_file('/proc/self/maps'), "
        "E'\\n') l WHERE l ~ '{1}';\n")
BLAS = MAPS.format("blas", "/lib[^/]*blas[^/]*[.]so")
NTG = MAPS.format("ntg", "/ntg[.]so$")
ONE_ROW = ("SELECT 'rows ' || md5(string_agg(g::text, ';')) FROM generate_series(1, 20) s, "
           "LATERAL ntg.generate('blas_m', 'c' || (s % 3), 1, s) g;\n")


def session(script):
    """Run script in a new backend; its 'key value' lines as a dict."""
    r = taplib.psql_script("\\set ON_ERROR_STOP 1\nSET ntg.progress = off;\n" + script)
    if r.returncode != 0:
        raise RuntimeError(r.stdout + r.stderr)
    return dict(line.split(" ", 1) for line in r.stdout.splitlines() if " " in line)


sql("""
SET ntg.progress = off;
SELECT ntg.drop_model('blas_m', if_exists => true);
DROP TABLE IF EXISTS blas_rows;
SELECT setseed(0.5);
CREATE TABLE blas_rows AS
  SELECT 'c' || (i % 3) AS label,
         (SELECT array_agg(((random() * 3000)::int - 1500)) FROM generate_series(1, 2 + i % 6)
          WHERE i > 0) AS pl
  FROM generate_series(1, 300) AS i;
SELECT model FROM ntg.train('blas_m', 'llama', 'SELECT label, pl FROM blas_rows',
  '{"dim": 16, "hidden_dim": 32, "n_layers": 1, "n_heads": 2, "epochs": 1}');
""")

first = session(ONE_ROW + NTG + BLAS)
ok(first.get("ntg") not in (None, "0"), "the backend that sampled loaded ntg.so (%s mappings)" % first.get("ntg"))
ok(first.get("blas") == "0",
   "one-row sampling in a new backend leaves the CBLAS unopened", "mappings: %s" % first.get("blas"))

trained = session("SELECT 'trained ' || epochs FROM ntg.train('blas_m2', 'llama', "
                  "'SELECT label, pl FROM blas_rows', '{\"dim\": 16, \"hidden_dim\": 32, "
                  "\"n_layers\": 1, \"n_heads\": 2, \"epochs\": 1}', replace => true);\n" + BLAS +
                  ONE_ROW)
ok(trained.get("trained") == "1" and trained.get("blas") not in (None, "0"),
   "training opens the CBLAS in its backend (%s mappings)" % trained.get("blas"))
ok(trained.get("rows") == first.get("rows") and first.get("rows") is not None,
   "one-row rows are the same with the CBLAS opened and without it")

sql("SELECT ntg.drop_model('blas_m'); SELECT ntg.drop_model('blas_m2'); DROP TABLE blas_rows;")
tap.done()
