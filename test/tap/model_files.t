#!/usr/bin/python3
"""model_files.t — the server's model files (ntg.model_file_cache): the first backend that loads a
model writes its stored bytes to a file and computes from that file, mapped, as every later backend
does; a damaged file is noticed, removed and written again from the table; with the cache off no
file is written and the rows are the same.  Every backend gives the same rows for the same seed."""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import taplib  # noqa: E402

tap = taplib.Tap()
ok = tap.ok
sql = taplib.psql

ROWS = ("SELECT md5(string_agg(g::text, ';')) FROM ntg.generate('files_m', NULL, 40, 7) g;\n")
# the model files this backend has mapped (each mapping of a file is one line or more)
MAPPED = ("SELECT 'mapped ' || count(DISTINCT substring(l FROM '/\\S+$')) FROM "
          "regexp_split_to_table(pg_read_file('/proc/self/maps'), E'\\n') l "
          "WHERE l LIKE '%pgsql_tmp_ntg_%';\n")
FILES = ("SELECT coalesce(string_agg(f || ':' || (pg_stat_file('base/pgsql_tmp/' || f)).size, ','), '') "
         "FROM pg_ls_dir('base/pgsql_tmp', true, false) f WHERE f LIKE 'pgsql_tmp_ntg_%' "
         "AND f NOT LIKE '%.tmp';")


def session():
    """A new backend: its rows' fingerprint and how many model files it maps afterwards."""
    r = taplib.psql_script(ROWS + MAPPED)
    lines = r.stdout.split()
    if r.returncode != 0 or len(lines) < 3:
        raise RuntimeError(r.stdout + r.stderr)
    return lines[0], int(lines[2])


def model_files():
    out = sql(FILES).strip()
    return [f.split(":") for f in out.split(",")] if out else []


def set_cache(value):
    # the library defines the setting: load it first in this backend
    r = taplib.psql_script("\\set ON_ERROR_STOP 1\nLOAD 'ntg';\n" +
                           ("ALTER SYSTEM SET ntg.model_file_cache = %s;\n" % value if value is not None
                            else "ALTER SYSTEM RESET ntg.model_file_cache;\n") +
                           "SELECT pg_reload_conf();\n")
    if r.returncode != 0:
        raise RuntimeError(r.stderr)
    want = "1GB" if value is None else "0"
    for _ in range(50):		# new backends see the reloaded file once the postmaster read it
        r = taplib.psql_script("LOAD 'ntg';\nSHOW ntg.model_file_cache;\n")
        if r.stdout.split()[-1:] == [want]:
            return
        time.sleep(0.1)
    raise RuntimeError("ntg.model_file_cache is not %s after a reload: %s" % (want, r.stdout))


sql("""
SET ntg.progress = off;
SELECT ntg.drop_model('files_m', if_exists => true);
DROP TABLE IF EXISTS files_rows;
SELECT setseed(0.25);
CREATE TABLE files_rows AS
  SELECT 'c' || (i % 3) AS label,
         (SELECT array_agg(((random() * 3000)::int - 1500)::smallint) FROM generate_series(1, 2 + i % 6)
          WHERE i > 0) AS pl
  FROM generate_series(1, 300) AS i;
SELECT model FROM ntg.train('files_m', 'llama', 'SELECT label, pl FROM files_rows',
  '{"dim": 16, "hidden_dim": 32, "n_layers": 1, "n_heads": 2, "epochs": 1}');
""")
stored = int(sql("SELECT octet_length(weights) FROM ntg.models WHERE name = 'files_m'"))
stored_md5 = sql("SELECT md5(weights) FROM ntg.models WHERE name = 'files_m'").strip()
datadir = sql("SHOW data_directory").strip()

# 1. The backend that reads the model from the table writes the file and maps it itself.
for name, size in model_files():
    os.unlink(os.path.join(datadir, "base/pgsql_tmp", name))	# from a load by ntg.train's checks
first_rows, first_mapped = session()
files = model_files()
ok(len(files) == 1 and int(files[0][1]) == stored,
   "the first load writes one model file of the stored value's size (%d bytes)" % stored, files)
path = os.path.join(datadir, "base/pgsql_tmp", files[0][0]) if files else None
ok(path is not None and sql("SELECT md5(pg_read_binary_file('base/pgsql_tmp/%s'))" % files[0][0]).strip()
   == stored_md5, "the file holds the stored bytes")
ok(first_mapped == 1, "the backend that wrote it computes from the mapped file, not its own copy",
   "mapped %d" % first_mapped)

# 2. A later backend maps the same file and draws the same rows.
rows, mapped = session()
ok(rows == first_rows and mapped == 1, "a new backend maps the file and draws the same rows",
   "%s %s %d" % (rows, first_rows, mapped))

# 3. A damaged file is noticed: the rows come from the table, and a sound file replaces it.
if path is not None and os.access(path, os.W_OK):
    with open(path, "r+b") as f:
        f.seek(stored // 2)
        b = f.read(1)
        f.seek(stored // 2)
        f.write(bytes([b[0] ^ 0x10]))
    rows, mapped = session()
    ok(rows == first_rows, "with a damaged file a new backend draws the same rows (read from the table)")
    ok(mapped == 1 and sql("SELECT md5(pg_read_binary_file('base/pgsql_tmp/%s'))" % files[0][0]).strip()
       == stored_md5, "and the damaged file was replaced by a sound one, which it maps",
       "mapped %d" % mapped)
else:
    tap.skip(2, "the model file cannot be written by this test's user")

# 4. With the cache off no file is written and the rows are the same.
for name, size in model_files():
    os.unlink(os.path.join(datadir, "base/pgsql_tmp", name))
set_cache(0)
try:
    rows, mapped = session()
    ok(rows == first_rows and mapped == 0 and model_files() == [],
       "with ntg.model_file_cache = 0: no file, nothing mapped, the same rows",
       "%s %d %s" % (rows, mapped, model_files()))
finally:
    set_cache(None)
sql("SELECT ntg.drop_model('files_m'); DROP TABLE files_rows;")
sys.exit(tap.done())
