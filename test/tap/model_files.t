#!/usr/bin/python3
"""model_files.t — the server's model files (ntg.model_file_cache): storing a model writes its bytes
to a file, and every backend computes from that file, mapped, without reading the table; the file
outlives a server restart; a backend that finds no file reads the table and writes one; a damaged
file is noticed, removed and written again from the table; with the cache off no file is written
and the rows are the same.  Every backend gives the same rows for the same seed."""
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import taplib  # noqa: E402

tap = taplib.Tap()
ok = tap.ok
sql = taplib.psql

DIR = "pg_stat_tmp"
# in one transaction, whose statistics count the blocks of ntg.models' TOAST table it fetched
ROWS = ("BEGIN;\n"
        "SELECT md5(string_agg(g::text, ';')) FROM ntg.generate('files_m', NULL, 40, 7) g;\n")
# the model files this backend has mapped (each mapping of a file is one line or more)
MAPPED = ("SELECT 'mapped ' || count(DISTINCT substring(l FROM '/\\S+$')) FROM "
          "regexp_split_to_table(pg_read_file('/proc/self/maps'), E'\\n') l "
          "WHERE l LIKE '%/" + DIR + "/ntg_model_%';\n")
TOAST_READ = ("SELECT 'toast ' || pg_stat_get_xact_blocks_fetched(reltoastrelid) FROM pg_class "
              "WHERE oid = 'ntg.models'::regclass;\nCOMMIT;\n")
FILES = ("SELECT coalesce(string_agg(f || ':' || (pg_stat_file('" + DIR + "/' || f)).size, ','), '') "
         "FROM pg_ls_dir('" + DIR + "', true, false) f WHERE f LIKE 'ntg_model_%' "
         "AND f NOT LIKE '%.tmp';")


def session(with_toast=False):
    """A new backend: its rows' fingerprint, how many model files it maps afterwards and (with
    with_toast) how many blocks of the models' TOAST table it read."""
    r = taplib.psql_script(ROWS + MAPPED + TOAST_READ)
    words = [w for w in r.stdout.split() if w not in ("BEGIN", "COMMIT")]
    if r.returncode != 0 or len(words) != 5 or words[1] != "mapped" or words[3] != "toast":
        raise RuntimeError(r.stdout + r.stderr)
    return (words[0], int(words[2]), int(words[4])) if with_toast else (words[0], int(words[2]))


def restart_server(datadir):
    """pg_ctl restart of the test server (postmaster.opts keeps its options); '' or what failed."""
    bindir = os.path.dirname(taplib.PSQL) if os.path.isabs(taplib.PSQL) else \
        subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True).stdout.strip()
    cmd = [os.path.join(bindir, "pg_ctl"), "-D", datadir, "-w", "-m", "fast", "-l",
           os.path.join(os.path.dirname(datadir), "server.log"), "restart"]
    if os.geteuid() == 0:
        import pwd
        cmd = ["runuser", "-u", pwd.getpwuid(os.stat(datadir).st_uid).pw_name, "--"] + cmd
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    return "" if r.returncode == 0 else r.stdout + r.stderr


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


# the files of models that earlier tests stored go first: from here on, the files are this test's
datadir = sql("SHOW data_directory").strip()
for name, size in model_files():
    os.unlink(os.path.join(datadir, DIR, name))

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


def file_md5(name):
    return sql("SELECT md5(pg_read_binary_file('%s/%s'))" % (DIR, name)).strip()


# 1. Storing the model wrote its file: a new backend maps it and reads nothing from the table.
files = model_files()
ok(len(files) == 1 and int(files[0][1]) == stored and file_md5(files[0][0]) == stored_md5,
   "ntg.train wrote one model file holding the stored bytes (%d)" % stored, files)
first_rows, first_mapped, toast = session(with_toast=True)
ok(first_mapped == 1 and toast == 0,
   "a new backend computes from the mapped file and reads no block of the table's TOAST",
   "mapped %d, TOAST blocks %d" % (first_mapped, toast))

# 2. Without a file, the backend that reads the model from the table writes it and maps it itself.
for name, size in model_files():
    os.unlink(os.path.join(datadir, DIR, name))
rows, mapped, toast = session(with_toast=True)
files = model_files()
ok(rows == first_rows and toast > 0, "with no file a new backend reads the table (%d TOAST blocks) and "
   "draws the same rows" % toast, "%s %s" % (rows, first_rows))
ok(len(files) == 1 and int(files[0][1]) == stored,
   "it writes one model file of the stored value's size", files)
path = os.path.join(datadir, DIR, files[0][0]) if files else None
ok(path is not None and file_md5(files[0][0]) == stored_md5, "the file holds the stored bytes")
ok(mapped == 1, "the backend that wrote it computes from the mapped file, not its own copy",
   "mapped %d" % mapped)

# 2b. A later backend maps the same file and draws the same rows.
rows, mapped = session()
ok(rows == first_rows and mapped == 1, "a new backend maps the file and draws the same rows",
   "%s %s %d" % (rows, first_rows, mapped))

# 2c. The file outlives a restart: the first backend of the new server maps it.
failed = restart_server(datadir)
ok(failed == "", "the server restarts", failed)
rows, mapped, toast = session(with_toast=True)
ok(rows == first_rows and mapped == 1 and toast == 0 and model_files() == files,
   "after a restart the first backend maps the same file, reads no TOAST block, draws the same rows",
   "%s %s mapped %d TOAST %d %s" % (rows, first_rows, mapped, toast, model_files()))

# 3. A damaged file is noticed: the rows come from the table, and a sound file replaces it.
if path is not None and os.access(path, os.W_OK):
    with open(path, "r+b") as f:
        f.seek(stored // 2)
        b = f.read(1)
        f.seek(stored // 2)
        f.write(bytes([b[0] ^ 0x10]))
    rows, mapped = session()
    ok(rows == first_rows, "with a damaged file a new backend draws the same rows (read from the table)")
    ok(mapped == 1 and file_md5(files[0][0]) == stored_md5,
       "and the damaged file was replaced by a sound one, which it maps",
       "mapped %d" % mapped)
else:
    tap.skip(2, "the model file cannot be written by this test's user")

# 4. With the cache off no file is written and the rows are the same.
for name, size in model_files():
    os.unlink(os.path.join(datadir, DIR, name))
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
