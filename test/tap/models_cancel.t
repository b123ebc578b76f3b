#!/usr/bin/python3
"""models_cancel.t — a cancelled ntg.train() stops, leaves ntg.models as it was, frees its memory,
and leaves a working backend: by statement_timeout and by pg_cancel_backend() from a second session.
Also checks the format of the per-epoch progress NOTICEs, with and without validation.  Timings are printed, never asserted."""
import os
import re
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import taplib  # noqa: E402

tap = taplib.Tap()
ok = tap.ok
psql = taplib.psql_script
psql_bin = taplib.PSQL


def scalar(sql):
    r = psql(sql)
    if r.returncode != 0:
        raise RuntimeError(r.stderr)
    return r.stdout.strip()


STATE = "SELECT coalesce(string_agg(name || ':' || version || ':' || md5(weights), ',' ORDER BY name), '') FROM ntg.models"
# Big enough that one epoch takes seconds: the default shape (Table I) on 4000 rows.
LONG_TRAIN = ("SELECT ntg.train('cancel_keep', 'llama', 'SELECT label, pl FROM cancel_rows', "
              "'{\"epochs\": 1000, \"seed\": 1}', replace => true);")
AFTER = ("\\echo sqlstate :LAST_ERROR_SQLSTATE\n"
         "SELECT 'alive ' || count(*) FROM pg_backend_memory_contexts WHERE name = 'ntg train';\n")

scalar("""
SET ntg.progress = off;
DROP TABLE IF EXISTS cancel_rows;
SELECT setseed(0.5);
CREATE TABLE cancel_rows AS
  SELECT 'c' || (i % 5) AS label,
         (SELECT array_agg(((random() * 3000)::int - 1500)::smallint) FROM generate_series(1, 2 + i % 8)
          WHERE i > 0) AS pl
  FROM generate_series(1, 4000) AS i;
SELECT ntg.drop_model('cancel_keep', if_exists => true);
SELECT model FROM ntg.train('cancel_keep', 'llama', 'SELECT label, pl FROM cancel_rows LIMIT 50',
  '{"dim": 8, "hidden_dim": 16, "n_layers": 1, "n_heads": 1, "epochs": 1}');
""")
before = scalar(STATE)
ok(before.startswith("cancel_keep:1:"), "a model to protect is stored", before)

# 1. statement_timeout
t0 = time.time()
r = psql("SET ntg.progress = off;\nSET statement_timeout = '1s';\n" + LONG_TRAIN +
         "\nRESET statement_timeout;\n" + AFTER)
elapsed = time.time() - t0
print("# statement_timeout: session ended %.2f s after start (timeout 1 s)" % elapsed)
ok("canceling statement due to statement timeout" in r.stderr, "statement_timeout cancels the training", r.stderr)
ok("sqlstate 57014" in r.stdout, "with SQLSTATE 57014 (query_canceled)", r.stdout)
ok("alive 0" in r.stdout, "the backend works afterwards and holds no training memory", r.stdout + r.stderr)
ok(scalar(STATE) == before, "ntg.models is unchanged")

# 1b. statement_timeout with validation, landing after some epochs: best weights saved in memory
#     by then, the held-out split, and the table must all be left as they were
VAL_TRAIN = ("SELECT ntg.train('cancel_keep', 'llama', 'SELECT label, pl FROM cancel_rows', "
             "'{\"dim\": 32, \"hidden_dim\": 64, \"n_layers\": 1, \"n_heads\": 2, \"epochs\": 100000, "
             "\"validation\": 0.2, \"seed\": 1}', replace => true);")
r = psql("SET ntg.progress = on;\nSET statement_timeout = '3s';\n" + VAL_TRAIN +
         "\nRESET statement_timeout;\nSET ntg.progress = off;\n" + AFTER)
epochs_seen = len([l for l in r.stderr.splitlines() if l.startswith("NOTICE:  epoch")])
print("# with validation: %d epochs ran before the timeout" % epochs_seen)
ok(epochs_seen >= 1, "the timeout lands after an epoch, when best weights are held (%d epochs ran)" % epochs_seen,
   r.stderr)
ok("canceling statement due to statement timeout" in r.stderr and "sqlstate 57014" in r.stdout,
   "statement_timeout cancels a training with validation", r.stdout + r.stderr)
ok("alive 0" in r.stdout, "and no training memory is left", r.stdout + r.stderr)
ok(scalar(STATE) == before, "ntg.models is unchanged")

# 2. pg_cancel_backend from a second session
script = tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False)
script.write("SET ntg.progress = off;\n" + LONG_TRAIN + "\n" + AFTER)
script.close()
victim = subprocess.Popen([psql_bin, "-X", "-A", "-t", "-f", script.name], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, env=dict(os.environ, PGAPPNAME="ntg_cancel_victim"))
pid = ""
deadline = time.time() + 60
while not pid and time.time() < deadline:
    pid = scalar("SELECT pid FROM pg_stat_activity WHERE application_name = 'ntg_cancel_victim' "
                 "AND state = 'active' AND query LIKE '%ntg.train%'")
    time.sleep(0.1)
ok(pid != "", "the training runs in the second session")
time.sleep(2)			# well into the first epoch
t0 = time.time()
ok(scalar("SELECT pg_cancel_backend(%s)" % (pid or "0")) == "t", "pg_cancel_backend() signals it")
try:
    out, err = victim.communicate(timeout=120)
except subprocess.TimeoutExpired:
    victim.kill()
    out, err = victim.communicate()
os.unlink(script.name)
print("# pg_cancel_backend: session ended %.2f s after the cancel" % (time.time() - t0))
ok("canceling statement due to user request" in err, "the training is cancelled", err)
ok("sqlstate 57014" in out, "with SQLSTATE 57014", out)
ok("alive 0" in out, "the backend works afterwards and holds no training memory", out + err)
ok(scalar(STATE) == before, "ntg.models is unchanged")

# 3. the progress NOTICE: one per epoch, with the loss and the time
r = psql("SET ntg.progress = on;\nSELECT model FROM ntg.train('notice_fmt', 'llama', "
         "'SELECT label, pl FROM cancel_rows LIMIT 20', "
         "'{\"dim\": 8, \"hidden_dim\": 16, \"n_layers\": 1, \"n_heads\": 1, \"epochs\": 2}');\n"
         "SET ntg.progress = off;\nSELECT ntg.drop_model('notice_fmt');\n")
notices = [l for l in r.stderr.splitlines() if l.startswith("NOTICE:")]
ok(len(notices) == 2 and all(re.fullmatch(r"NOTICE:  epoch [12]/2: loss \d+\.\d{4}, \d+\.\d s", l) for l in notices),
   "one NOTICE per epoch: 'epoch E/N: loss L, S s'", r.stderr)

# 4. with validation and patience: the split, the held-out loss per epoch, the stop, the kept epoch
# (patternless rows from a small alphabet and a high learning rate: the held-out loss soon rises)
r = psql("CREATE TABLE notice_rows AS SELECT 'a' AS label, "
         "ARRAY[(i * 37) % 11 * 10 + 10, -((i * 53) % 7 * 10 + 10), (i * 29) % 5 * 10 + 10]::smallint[] AS pl "
         "FROM generate_series(1, 40) AS i;\n"
         "SET ntg.progress = on;\nSELECT model FROM ntg.train('notice_val', 'llama', "
         "'SELECT label, pl FROM notice_rows', "
         "'{\"dim\": 8, \"hidden_dim\": 16, \"n_layers\": 1, \"n_heads\": 1, \"epochs\": 60, "
         "\"lr\": 0.05, \"validation\": 0.25, \"patience\": 2}');\n"
         "SET ntg.progress = off;\nSELECT ntg.drop_model('notice_val');\n"
         "SELECT ntg.drop_model('cancel_keep');\nDROP TABLE cancel_rows, notice_rows;\n")
notices = [l for l in r.stderr.splitlines() if l.startswith("NOTICE:")]
epochs = [l for l in notices if l.startswith("NOTICE:  epoch")]
ok(len(notices) > 0 and re.fullmatch(r"NOTICE:  training on 30 rows, 10 held out for validation", notices[0]) is not None,
   "first NOTICE: the rows trained on and held out", r.stderr)
ok(len(epochs) > 0 and all(re.fullmatch(r"NOTICE:  epoch \d+/60: loss \d+\.\d{4}, validation loss \d+\.\d{4}, \d+\.\d s", l)
                           for l in epochs), "one NOTICE per epoch with the validation loss", r.stderr)
stop = [l for l in notices if l.startswith("NOTICE:  stopping")]
keep = [l for l in notices if l.startswith("NOTICE:  keeping")]
ok(len(epochs) < 60 and len(stop) == 1 and
   re.fullmatch(r"NOTICE:  stopping after epoch %d: the validation loss has not improved for 2 epochs" % len(epochs),
                stop[0]) is not None, "early stopping says when and why", r.stderr)
ok(len(keep) == 1 and re.fullmatch(r"NOTICE:  keeping the weights of epoch %d, the lowest validation loss \(\d+\.\d{4}\)"
                                   % (len(epochs) - 2), keep[0]) is not None,
   "and which epoch's weights it keeps", r.stderr)
sys.exit(tap.done())
