#!/usr/bin/python3
"""jobs.t — background jobs on a server of their own whose configuration preloads ntg and pg_cron
(test/lib/pg_harness.sh with NTG_SERVER_OPTS): submit, result and history, a failing command's
error and retries, refused commands, live training progress and cancel, two roles' privileges and
the owner checks, a paused queue, a job in a second database, import jobs that skip what they
imported, a worker killed with SIGKILL mid-training (crash recovery, ntg.models as it was, the run
failed or retried), a server restart with jobs running and queued, and a pg_cron schedule that
fires (pg_cron 1.4 schedules by the minute: the test waits up to 75 s for it, meanwhile running the
other tests, and removes it before the crash tests).  Without pg_cron installed (Debian package postgresql-15-cron) the schedule tests skip.
Every wait is bounded; timings are printed, never asserted."""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import taplib  # noqa: E402

tap = taplib.Tap()
ok = tap.ok
repo = os.path.abspath(os.environ.get("NTG_REPO", os.path.join(os.path.dirname(__file__), "..", "..")))
PORT = os.environ.get("NTG_JOBS_PORT", "54337")
DB = "ntgjobs"
AS_ROOT = os.geteuid() == 0
state = {}


def bindir():
    tmp = os.path.join(repo, "tmp_install/usr/lib/postgresql/15/bin")
    if os.path.exists(os.path.join(tmp, "postgres")):
        return tmp
    return subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True).stdout.strip()


BIN = bindir()
PSQL = os.path.join(BIN, "psql")
HAVE_CRON = os.path.exists(os.path.join(BIN, "..", "lib", "pg_cron.so"))
SERVER_OPTS = ("-c shared_preload_libraries=ntg,pg_cron -c cron.database_name=%s "
               "-c cron.use_background_workers=on -c cron.max_running_jobs=4" % DB
               if HAVE_CRON else "-c shared_preload_libraries=ntg")
NO_CRON = "pg_cron is not installed (Debian package postgresql-15-cron)"


def run_sql(q, user=None, db=DB):
    """(ok, stdout, stderr) of one psql -c command string."""
    args = [PSQL, "-XAtq", "-v", "ON_ERROR_STOP=1", "-v", "VERBOSITY=verbose", "-h", state["host"],
            "-p", PORT, "-U", user or state["owner"], "-d", db, "-c", q]
    out = subprocess.run(args, capture_output=True, text=True, timeout=120)
    return out.returncode == 0, out.stdout.strip(), out.stderr.strip()


def sql(q, user=None, db=DB):
    good, out, err = run_sql(q, user, db)
    if not good:
        raise RuntimeError("%s\n%s" % (q, err))
    return out


def sqlstate(q, user=None, db=DB):
    """The SQLSTATE a statement fails with ('' when it succeeds), and the error text."""
    good, out, err = run_sql(q, user, db)
    if good:
        return "", out
    for line in err.splitlines():
        if line.startswith("ERROR:  ") and len(line) > 14 and line[13] == ":":
            return line[8:13], err
    return "?", err


def wait_for(fn, timeout, interval=0.3):
    """fn() until truthy or timeout seconds; the last value."""
    end = time.time() + timeout
    while True:
        try:
            v = fn()
        except (RuntimeError, subprocess.TimeoutExpired):
            v = None
        if v or time.time() > end:
            return v
        time.sleep(interval)


def job(job_id, cols="state, attempts, error, sqlstate, result"):
    return sql("SELECT %s FROM ntg.job_status WHERE job_id = %s" % (cols, job_id)).split("|")


def wait_state(job_id, states, timeout=60):
    got = wait_for(lambda: job(job_id, "state")[0] in states, timeout)
    return bool(got)


def pg_ctl(*args):
    cmd = [os.path.join(BIN, "pg_ctl"), "-D", os.path.join(state["dir"], "data"), "-w",
           "-l", os.path.join(state["dir"], "server.log")] + list(args)
    if AS_ROOT:
        cmd = ["runuser", "-u", "postgres", "--"] + cmd
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def server_log_tail(n=30):
    try:
        with open(os.path.join(state["dir"], "server.log")) as f:
            return "".join(f.readlines()[-n:])
    except OSError as e:
        return str(e)


def start_server():
    state["dir"] = tempfile.mkdtemp(prefix="ntg-jobs.")
    env = dict(os.environ, NTG_SERVER_OPTS=SERVER_OPTS, NTG_BINDIR=BIN)
    out = subprocess.run(["bash", os.path.join(repo, "test/lib/pg_harness.sh"), "start", state["dir"], PORT, DB],
                         capture_output=True, text=True, env=env, timeout=600)
    if out.returncode != 0:
        return out.stdout + out.stderr
    values = dict(line.split("=", 1) for line in out.stdout.splitlines() if "=" in line)
    state["host"], state["owner"] = values["PGHOST"], values["PGUSER"]
    return ""


def stop_server():
    if "dir" in state:
        subprocess.run(["bash", os.path.join(repo, "test/lib/pg_harness.sh"), "stop", state["dir"]],
                       capture_output=True, text=True, timeout=120)
        if os.environ.get("NTG_KEEP_WORK") != "1":
            shutil.rmtree(state["dir"], ignore_errors=True)


def setup():
    # in postgresql.auto.conf, not on the command line, so that a reload can change it
    sql("ALTER SYSTEM SET ntg.max_job_workers = 3")
    sql("SELECT pg_reload_conf()")
    sql("CREATE EXTENSION ntg")
    if HAVE_CRON:
        sql("CREATE EXTENSION pg_cron; CREATE ROLE cron_users; GRANT USAGE ON SCHEMA cron TO cron_users")
    sql("""
        CREATE ROLE alice LOGIN; CREATE ROLE bob LOGIN; CREATE ROLE carol NOLOGIN;
        GRANT CREATE ON SCHEMA public TO alice, bob;
        CREATE TABLE marks (job text, who text, session_who text, super boolean);
        GRANT INSERT ON marks TO PUBLIC;
        SELECT setseed(0.5);
        CREATE TABLE train_rows AS
          SELECT 'c' || (i % 5) AS label,
                 (SELECT array_agg(((random() * 3000)::int - 1500)::smallint)
                    FROM generate_series(1, 2 + i % 8) WHERE i > 0) AS pl
          FROM generate_series(1, 1000) AS i;
        """)


# A training that takes seconds per epoch on a busy 2-core machine and never ends on its own.
LONG_TRAIN = ("SELECT model, epochs FROM ntg.train('%s', 'llama', 'SELECT label, pl FROM train_rows', "
              "'{\"epochs\": 100000, \"dim\": 16, \"hidden_dim\": 32, \"n_layers\": 1, \"n_heads\": 1%s}', "
              "replace => true)")


def test_submit():
    jid = sql("SELECT ntg.submit($$INSERT INTO marks SELECT 'first', current_user, session_user, "
              "(SELECT rolsuper FROM pg_roles WHERE rolname = current_user); "
              "SELECT 42 AS answer, 'x' AS letter$$, job_name => 'first')")
    ok(wait_state(jid, ("succeeded", "failed")), "a submitted job finishes", server_log_tail())
    st = job(jid)
    ok(st[0] == "succeeded" and st[1] == "1", "it succeeded in one attempt", str(st))
    ok(st[4] == "answer=42, letter=x", "ntg.job_status.result holds the first row of its last statement", str(st))
    ok(sql("SELECT who || ',' || session_who FROM marks WHERE job = 'first'") == "%s,%s" % (state["owner"], state["owner"]),
       "the command ran as the submitting role, and committed")
    runs = sql("SELECT attempt, state, pid IS NOT NULL, finished_at >= started_at, "
               "(SELECT job_name = 'first' AND owner::text = current_user FROM ntg.jobs WHERE job_id = %s) "
               "FROM ntg.job_runs WHERE job_id = %s" % (jid, jid))
    ok(runs == "1|succeeded|t|t|t", "its run is in ntg.job_runs: attempt 1, worker pid, times, name, owner", runs)


def test_failures():
    jid = sql("SELECT ntg.submit('SELECT 1/0', max_attempts => 2)")
    ok(wait_state(jid, ("failed",)), "a failing command fails")
    st = job(jid)
    ok(st[1] == "2" and st[2] == "division by zero" and st[3] == "22012",
       "after max_attempts (2) attempts, with its error and SQLSTATE", str(st))
    runs = sql("SELECT string_agg(attempt || ':' || state || ':' || error, ',' ORDER BY attempt) "
               "FROM ntg.job_runs WHERE job_id = %s" % jid)
    ok(runs == "1:failed:division by zero,2:failed:division by zero", "each attempt is a run with its error", runs)
    # the 'tick' schedule (test_schedule_start) may submit a job meanwhile: leave its jobs out
    queued = "SELECT count(*) FROM ntg.jobs WHERE job_name IS DISTINCT FROM 'tick'"
    before = sql(queued)
    refused = [
        ("SELECT ntg.submit('SELEC 1')", "42601", "a syntax error, at submission"),
        ("SELECT ntg.submit('SELECT 1; COMMIT')", "0A000", "transaction control"),
        ("SELECT ntg.submit(' ; ')", "22023", "no statement"),
        ("SELECT ntg.submit(NULL)", "22004", "a NULL command"),
        ("SELECT ntg.submit('SELECT 1', max_attempts => 0)", "22023", "max_attempts 0"),
        ("SELECT ntg.submit('SELECT 1', job_name => '')", "22023", "an empty job_name"),
        ("SELECT ntg.cancel_job(NULL)", "22004", "cancel_job(NULL)"),
        ("SELECT ntg.cancel_job(999999)", "42704", "cancel_job of no job"),
    ]
    for q, code, what in refused:
        got, err = sqlstate(q)
        ok(got == code, "refused with %s: %s" % (code, what), err)
    ok(sql(queued) == before, "refused commands queue nothing")
    # a command SPI refuses at run time: the error is recorded, the job fails
    jid = sql("SELECT ntg.submit('VACUUM marks')")
    ok(wait_state(jid, ("failed",)), "a command that cannot run inside a transaction fails")
    st = job(jid)
    ok(st[3] == "25001", "with its error recorded (%s)" % st[2], str(st))


def test_progress_and_cancel():
    jid = sql("SELECT ntg.submit($$%s$$)" % (LONG_TRAIN % ("cancelled_model", ", \"validation\": 0.2")))
    t0 = time.time()
    row = wait_for(lambda: (lambda r: r if r[0] == "running" and r[2] not in ("", "0", "1") else None)(
        job(jid, "state, phase, epoch, epochs, loss, val_loss, rows, message, pid")), 90)
    print("# progress: epoch %s seen after %.1f s" % (row[2] if row else "?", time.time() - t0))
    ok(row is not None, "ntg.job_status shows a running training past epoch 1", server_log_tail())
    if row is None:
        return
    ok(row[1] == "training" and row[3] == "100000", "phase training, epoch k of 100000", str(row))
    ok(row[4] != "" and row[5] != "" and float(row[4]) > 0 and float(row[5]) > 0,
       "with the last loss and validation loss", str(row))
    ok(row[6] == "800", "and the training rows (800 of 1000, 0.2 held out)", str(row))
    ok(row[7].startswith("epoch ") and "validation loss" in row[7], "and the last progress line", str(row))
    seen_by_activity = sql("SELECT application_name FROM pg_stat_activity WHERE pid = %s" % row[8])
    ok(seen_by_activity == "ntg job %s attempt 1" % jid, "the worker shows in pg_stat_activity", seen_by_activity)
    ok(sql("SELECT ntg.cancel_job(%s)" % jid) == "t", "cancel_job of a running job returns true")
    ok(wait_state(jid, ("cancelled", "failed", "succeeded"), 60), "the job stops")
    st = job(jid, "state, error, sqlstate, epoch")
    ok(st[0] == "cancelled" and st[2] == "57014", "state cancelled, SQLSTATE 57014", str(st))
    ok(st[3] not in ("", "0"), "the view keeps the epoch it reached (%s)" % st[3], str(st))
    ok(sql("SELECT count(*) FROM ntg.models WHERE name = 'cancelled_model'") == "0",
       "a cancelled training stores no model")
    ok(sql("SELECT ntg.cancel_job(%s)" % jid) == "f", "cancelling it again returns false")
    # a queued job is cancelled before it runs: pause the queue first
    sql("ALTER SYSTEM SET ntg.max_job_workers = 0")
    sql("SELECT pg_reload_conf()")
    time.sleep(2)                           # the scheduler rereads the setting within its 1 s wait
    qid = sql("SELECT ntg.submit($$INSERT INTO marks VALUES ('paused', current_user)$$)")
    rid = sql("SELECT ntg.submit($$INSERT INTO marks VALUES ('resumed', current_user)$$)")
    time.sleep(2)
    ok(job(qid, "state")[0] == "queued" and job(rid, "state")[0] == "queued",
       "with ntg.max_job_workers = 0 jobs stay queued")
    ok(sql("SELECT ntg.cancel_job(%s)" % qid) == "t" and job(qid, "state")[0] == "cancelled",
       "a queued job is cancelled at once")
    sql("ALTER SYSTEM SET ntg.max_job_workers = 3")
    sql("SELECT pg_reload_conf()")
    ok(wait_state(rid, ("succeeded",), 30), "raising ntg.max_job_workers (a reload) runs the queue")
    ok(sql("SELECT string_agg(job, ',' ORDER BY job) FROM marks WHERE job IN ('paused', 'resumed')") == "resumed",
       "the cancelled job never ran")


def test_roles():
    aid = sql("SELECT ntg.submit($$INSERT INTO marks SELECT 'alice', current_user, session_user, "
              "(SELECT rolsuper FROM pg_roles WHERE rolname = current_user)$$)", user="alice")
    ok(wait_state(aid, ("succeeded", "failed")), "a plain role's job finishes")
    ok(sql("SELECT who || ',' || session_who || ',' || super FROM marks WHERE job = 'alice'") == "alice,alice,false",
       "it ran as that role, in a session of that role, not as a superuser")
    sql("ALTER ROLE alice SET jobs_test.marker = 'from alice''s settings'")
    mid = sql("SELECT ntg.submit($$SELECT current_setting('jobs_test.marker', true)$$)", user="alice")
    ok(wait_state(mid, ("succeeded", "failed")) and job(mid, "result")[0] == "from alice's settings",
       "the session has the role's own settings (ALTER ROLE ... SET)", str(job(mid)))
    fid = sql("SELECT ntg.submit('SELECT pg_reload_conf()')", user="alice")
    ok(wait_state(fid, ("failed", "succeeded")), "a plain role's job that needs a superuser finishes")
    st = job(fid)
    ok(st[0] == "failed" and st[3] == "42501", "failed: permission denied (42501)", str(st))
    bid = sql("SELECT ntg.submit('SELECT 1')", user="bob")
    wait_state(bid, ("succeeded",))
    ok(sql("SELECT string_agg(job_id::text, ',') FROM ntg.job_status", user="bob") == bid,
       "bob sees only his own job in ntg.job_status")
    ok(sql("SELECT count(*) FROM ntg.jobs WHERE job_id = %s" % aid, user="bob") == "0" and
       sql("SELECT count(*) FROM ntg.job_runs WHERE job_id = %s" % aid, user="bob") == "0",
       "nor alice's in ntg.jobs and ntg.job_runs")
    ok(sql("SELECT count(*) FROM ntg.jobs WHERE job_id IN (%s, %s, %s)" % (aid, fid, bid)) == "3",
       "a superuser sees every job")
    got, err = sqlstate("SELECT ntg.cancel_job(%s)" % aid, user="bob")
    ok(got == "42704", "bob cannot cancel alice's job: it does not exist for him", err)
    got, err = sqlstate("DELETE FROM ntg.jobs WHERE job_id = %s" % aid, user="bob")
    ok(got == "" and err == "" and job(aid, "state")[0] == "succeeded", "nor delete it")
    ok(sql("DELETE FROM ntg.jobs WHERE job_id = %s RETURNING job_id" % bid, user="bob") == bid,
       "he may delete (forget) his own finished job")
    # a role that became a superuser after submitting: the job is refused, never escalated
    sid = sql("BEGIN; SET LOCAL ROLE alice; SELECT ntg.submit($$INSERT INTO marks VALUES ('escalated', current_user)$$); "
              "RESET ROLE; ALTER ROLE alice SUPERUSER; COMMIT").splitlines()[-1]
    ok(wait_state(sid, ("failed", "succeeded")), "a job whose owner became a superuser finishes")
    st = job(sid)
    sql("ALTER ROLE alice NOSUPERUSER")
    ok(st[0] == "failed" and "is a superuser now but was not" in st[2], "refused: the owner is a superuser now", str(st))
    ok(sql("SELECT count(*) FROM marks WHERE job = 'escalated'") == "0", "its command never ran")
    nid = sql("BEGIN; SET LOCAL ROLE carol; SELECT ntg.submit('SELECT 1'); COMMIT").splitlines()[-1]
    ok(wait_state(nid, ("failed", "succeeded")), "a job of a role without LOGIN finishes")
    st = job(nid)
    ok(st[0] == "failed" and "not permitted to log in" in st[2], "refused: the owner may not log in", str(st))
    sql("CREATE ROLE dave LOGIN; REVOKE CONNECT ON DATABASE %s FROM PUBLIC; "
        "GRANT CONNECT ON DATABASE %s TO alice, bob" % (DB, DB))
    did = sql("BEGIN; SET LOCAL ROLE dave; SELECT ntg.submit('SELECT 1'); COMMIT").splitlines()[-1]
    ok(wait_state(did, ("failed", "succeeded")), "a job of a role without CONNECT on the database finishes")
    st = job(did)
    sql("GRANT CONNECT ON DATABASE %s TO PUBLIC" % DB)
    ok(st[0] == "failed" and "may not connect to database" in st[2], "refused: the owner may not connect", str(st))
    # a plain role cancels its own running job
    cid = sql("SELECT ntg.submit('SELECT pg_sleep(120)')", user="alice")
    ok(wait_state(cid, ("running",), 30) and sql("SELECT ntg.cancel_job(%s)" % cid, user="alice") == "t" and
       wait_state(cid, ("cancelled",), 30), "alice cancels her own running job")


def test_other_database():
    sql("CREATE DATABASE ntgother", db="postgres")
    sql("CREATE EXTENSION ntg; CREATE TABLE here (db text)", db="ntgother")
    jid = sql("SELECT ntg.submit('INSERT INTO here SELECT current_database()')", db="ntgother")
    got = wait_for(lambda: sql("SELECT state FROM ntg.jobs WHERE job_id = %s" % jid, db="ntgother") == "succeeded", 60)
    ok(got and sql("TABLE here", db="ntgother") == "ntgother", "a job of a second database runs there")
    got, err = sqlstate("SELECT ntg.schedule('x', '* * * * *', 'SELECT 1')", db="ntgother")
    ok(got == "55000" and "CREATE EXTENSION pg_cron" in err and "shared_preload_libraries" in err,
       "without pg_cron in that database, ntg.schedule says how to install it", err)


def test_imports():
    caps = os.path.join(state["dir"], "caps")
    os.makedirs(caps)
    for name in ("dns_ns.pcap", "http.pcap"):
        shutil.copy(os.path.join(repo, "test/captures", name), caps)
    if AS_ROOT:
        subprocess.run(["chown", "-R", "postgres:", caps])
    cmd = ("SELECT count(*) FILTER (WHERE status = 'imported') AS imported "
           "FROM ntg.import_new_captures('%s/*.pcap', dataset => 'nightly', min_age => '0')" % caps)
    jid = sql("SELECT ntg.submit($$%s$$)" % cmd)
    ok(wait_state(jid, ("succeeded", "failed")), "an import job finishes")
    st = job(jid, "state, result, phase, files_done, files_total, packets, biflows, error")
    ok(st[:2] == ["succeeded", "2"], "it imported the directory's two captures", str(st))
    expect = sql("SELECT sum(packets) || '|' || sum(biflows) FROM ntg.imported_captures WHERE dataset = 'nightly'")
    ok(st[2:5] == ["importing", "2", "2"] and "|".join(st[5:7]) == expect and st[5] != "0",
       "its progress: files 2 of 2, packets and biflows read", "%s vs %s" % (st, expect))
    biflows = sql("SELECT count(*) FROM ntg.biflows WHERE dataset = 'nightly'")
    jid = sql("SELECT ntg.submit($$%s$$)" % cmd)
    ok(wait_state(jid, ("succeeded",)) and job(jid, "result")[0] == "0", "the next run imports nothing new")
    ok(sql("SELECT count(*) FROM ntg.biflows WHERE dataset = 'nightly'") == biflows, "and adds no biflow")
    shutil.copy(os.path.join(repo, "test/captures/postgres.pcap"), caps)
    if AS_ROOT:
        subprocess.run(["chown", "-R", "postgres:", caps])
    jid = sql("SELECT ntg.submit($$%s$$)" % cmd)
    ok(wait_state(jid, ("succeeded",)) and job(jid, "result")[0] == "1", "a new capture in the directory: that one is imported")
    # a file being imported by an open transaction: the job waits for it, then skips the file
    shutil.copy(os.path.join(repo, "test/captures/tls.pcapng"), caps)
    if AS_ROOT:
        subprocess.run(["chown", "-R", "postgres:", caps])
    holder = subprocess.Popen([PSQL, "-XAtq", "-v", "ON_ERROR_STOP=1", "-h", state["host"], "-p", PORT,
                               "-U", state["owner"], "-d", DB], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    holder.stdin.write("SET ntg.progress = off;\nBEGIN;\nSELECT status FROM ntg.import_new_captures("
                       "'%s/*.pcapng', dataset => 'nightly', min_age => '0');\n" % caps)
    holder.stdin.flush()
    wait_for(lambda: sql("SELECT count(*) FROM pg_stat_activity WHERE state = 'idle in transaction' "
                         "AND query LIKE '%%import_new_captures%%'") == "1", 30)
    jid = sql("SELECT ntg.submit($$%s$$)" % cmd.replace("*.pcap", "*.pcapng"))
    waiting = wait_for(lambda: sql("SELECT wait_event_type FROM pg_stat_activity WHERE application_name = "
                                   "'ntg job %s attempt 1'" % jid) == "Lock", 30)
    ok(waiting, "an import job meeting a file another transaction is importing waits for it")
    out, err = holder.communicate("COMMIT;\n", timeout=60)
    ok(wait_state(jid, ("succeeded", "failed")) and job(jid, "result")[0] == "0",
       "then skips it: imported once", out + err + str(job(jid)))
    ok(sql("SELECT count(*) FROM ntg.imported_captures WHERE path LIKE '%%tls.pcapng'") == "1" and
       sql("SELECT count(DISTINCT imported_at) FROM ntg.biflows WHERE source LIKE '%%tls.pcapng'") == "1",
       "its biflows went in once")
    sql("GRANT INSERT ON ntg.biflows TO bob")
    jid = sql("SELECT ntg.submit($$%s$$)" % cmd, user="bob")
    ok(wait_state(jid, ("failed", "succeeded")) and job(jid, "sqlstate")[0] == "42501",
       "a role without pg_read_server_files: its import job fails with 42501")


def test_kill_worker():
    sql("SELECT ntg.train('keep', 'llama', 'SELECT label, pl FROM train_rows LIMIT 50', "
        "'{\"dim\": 8, \"hidden_dim\": 16, \"n_layers\": 1, \"n_heads\": 1, \"epochs\": 1}')")
    models = "SELECT string_agg(name || ':' || version || ':' || md5(weights), ',' ORDER BY name) FROM ntg.models"
    before = sql(models)
    aid = sql("SELECT ntg.submit($$%s$$)" % (LONG_TRAIN % ("keep", "")))
    bid = sql("SELECT ntg.submit($$INSERT INTO marks SELECT 'retried', current_setting('application_name'); "
              "SELECT pg_sleep(CASE WHEN current_setting('application_name') LIKE '%% attempt 1' THEN 600 ELSE 0 END)$$, "
              "max_attempts => 2)")
    row = wait_for(lambda: (lambda r: r if r[0] == "running" and r[1] not in ("", "0") else None)(
        job(aid, "state, epoch, pid")), 90)
    ok(row is not None and wait_state(bid, ("running",), 30), "a training (past epoch 1) and a sleeping job run",
       server_log_tail())
    if row is None:
        return
    t0 = time.time()
    os.kill(int(row[2]), signal.SIGKILL)
    # the postmaster kills every backend and recovers; connections fail until it is back
    time.sleep(1)
    back = wait_for(lambda: run_sql("SELECT 1")[1] == "1", 90, 0.5)
    print("# crash recovery: the server accepted connections again %.1f s after the SIGKILL" % (time.time() - t0))
    ok(back, "the server recovers from the SIGKILL", server_log_tail())
    ok("was terminated by signal 9" in server_log_tail(80), "(the server log shows the killed worker)")
    ok(wait_state(aid, ("failed", "queued", "succeeded"), 60), "the killed job is closed after recovery", server_log_tail())
    st = job(aid, "state, attempts, error")
    ok(st == ["failed", "1", "interrupted by a server restart"], "failed: interrupted by a server restart", str(st))
    ok(sql(models) == before, "ntg.models is as it was: no half-written model")
    ok(wait_state(bid, ("succeeded", "failed"), 60), "the job with max_attempts 2 finishes after recovery")
    runs = sql("SELECT string_agg(attempt || ':' || state || ':' || coalesce(error, ''), ',' ORDER BY attempt) "
               "FROM ntg.job_runs WHERE job_id = %s" % bid)
    ok(runs == "1:failed:interrupted by a server restart,2:succeeded:", "it was retried: attempt 2 succeeded", runs)
    ok(sql("SELECT string_agg(who, ',') FROM marks WHERE job = 'retried'") == "ntg job %s attempt 2" % bid,
       "only the second attempt's work was kept")
    ok(sql("SELECT count(*) FROM ntg.job_runs WHERE state = 'running'") == "0", "no run is left running")


def test_restart():
    sql("CREATE TABLE after_restart (x int)")
    sleepers = [sql("SELECT ntg.submit('SELECT pg_sleep(600)')") for _ in range(3)]
    queued = sql("SELECT ntg.submit('INSERT INTO after_restart VALUES (1)')")
    running = wait_for(lambda: all(job(s, "state")[0] == "running" for s in sleepers), 60)
    ok(running and job(queued, "state")[0] == "queued", "three jobs run (ntg.max_job_workers) and one waits")
    # What a claim leaves when the server stops before the claimed job's worker begins (a sleeper's
    # worker exits at the shutdown, the scheduler claims the queued job into its slot, and the
    # postmaster starts no worker any more): the job and its run 'running', the run without a pid.
    # Made here in one transaction, so no scheduler sees the jobs queued; the second was cancelled.
    never, cancelled = [sql("""DO $$ DECLARE id bigint := ntg.submit('INSERT INTO after_restart VALUES (%d)'); BEGIN
        UPDATE ntg.jobs SET state = 'running', attempts = 1, started_at = clock_timestamp(),
                            cancel_requested = %s WHERE job_id = id;
        INSERT INTO ntg.job_runs (job_id, attempt, state, started_at) VALUES (id, 1, 'running', clock_timestamp());
        END $$; SELECT max(job_id) FROM ntg.jobs""" % (x, flag)) for x, flag in ((2, "false"), (3, "true"))]
    t0 = time.time()
    r = pg_ctl("-m", "fast", "restart")
    ok(r.returncode == 0, "pg_ctl restart", r.stdout + r.stderr)
    print("# restart took %.1f s" % (time.time() - t0))
    ok(wait_state(queued, ("succeeded", "failed"), 60) and job(queued, "state")[0] == "succeeded",
       "the queued job runs after the restart", server_log_tail())
    ok(wait_state(never, ("succeeded", "failed"), 60) and job(never, "state, attempts") == ["succeeded", "1"],
       "a job claimed whose worker never began is queued again and runs: one attempt",
       str(job(never)) + "\n" + server_log_tail())
    ok(sql("SELECT string_agg(state, ',') FROM ntg.job_runs WHERE job_id = %s" % never) == "succeeded",
       "its unstarted run is not kept")
    ok(job(cancelled, "state")[0] == "cancelled", "one whose cancel was asked for is cancelled",
       str(job(cancelled)))
    ok(sql("SELECT string_agg(x::text, ',' ORDER BY x) FROM after_restart") == "1,2",
       "each command ran once, the cancelled one never")
    done = wait_for(lambda: all(job(s, "state")[0] == "failed" for s in sleepers), 60)
    errors = [job(s, "error")[0] for s in sleepers]
    ok(done and all(e == "interrupted by a server restart" or "due to administrator command" in e for e in errors),
       "the running ones are reported failed, interrupted", str(errors))


def test_schedule_start():
    if not HAVE_CRON:
        return tap.skip(5, NO_CRON)
    sql("GRANT cron_users TO alice")
    sql("CREATE TABLE ticks (who text, at timestamptz DEFAULT now())", user="alice")
    cron_id = sql("SELECT ntg.schedule('tick', '* * * * *', $$INSERT INTO ticks (who) SELECT current_user$$)", user="alice")
    ok(cron_id.isdigit(), "ntg.schedule returns the pg_cron job id", cron_id)
    listed = sql("SELECT job_name || '|' || schedule || '|' || active FROM ntg.schedules()", user="alice")
    ok(listed == "tick|* * * * *|true", "ntg.schedules() lists it", listed)
    got, err = sqlstate("SELECT ntg.schedule('b', '* * * * *', 'SELECT 1')", user="bob")
    ok(got == "42501" and "GRANT USAGE ON SCHEMA cron" in err, "a role without USAGE on schema cron is told how", err)
    got, err = sqlstate("SELECT ntg.schedule('bad', '* * * * *', 'COMMIT')", user="alice")
    ok(got == "0A000", "a schedule's command is checked when it is scheduled", err)
    got, err = sqlstate("SELECT ntg.schedule('tick2', 'not a schedule', 'SELECT 1')", user="alice")
    ok(got != "", "pg_cron refuses a bad schedule (%s)" % got, err)
    state["schedule_t0"] = time.time()


def test_schedule_fired():
    if not HAVE_CRON:
        return tap.skip(7, NO_CRON)
    left = max(5, 75 - (time.time() - state["schedule_t0"]))
    fired = wait_for(lambda: sql("SELECT job_id FROM ntg.jobs WHERE job_name = 'tick' AND state = 'succeeded' "
                                 "ORDER BY job_id LIMIT 1"), left, 1)
    print("# the schedule fired %.0f s after it was created" % (time.time() - state["schedule_t0"]))
    ok(bool(fired), "the pg_cron schedule fired and submitted a job that succeeded", server_log_tail())
    ok(fired and job(fired, "owner")[0] == "alice", "owned by the role that scheduled it")
    ok(sql("SELECT count(*) > 0 AND bool_and(who = 'alice') FROM ticks", user="alice") == "t",
       "its command ran as that role")
    ok(sql("SELECT ntg.unschedule('tick')", user="alice") == "t", "ntg.unschedule removes it")
    ok(sql("SELECT count(*) FROM cron.job WHERE jobname = 'ntg:tick'") == "0", "from cron.job")
    got, err = sqlstate("SELECT ntg.unschedule('tick')", user="alice")
    ok(got == "42704", "unscheduling it again: 42704", err)
    ok(sql("SELECT ntg.unschedule('tick', if_exists => true)", user="alice") == "f", "or false with if_exists")


def main():
    err = start_server()
    if not ok(err == "", "a server with ntg and pg_cron preloaded starts", err):
        return tap.done()
    try:
        setup()
        steps = [test_schedule_start, test_submit, test_failures, test_progress_and_cancel, test_roles,
                 test_other_database, test_imports, test_schedule_fired, test_kill_worker, test_restart]
        for step in steps:
            t0 = time.time()
            try:
                step()
            except Exception as e:  # a step that dies is one failure; the others still run
                ok(False, "%s ran to its end" % step.__name__, "%s\n%s" % (e, server_log_tail()))
            print("# %s: %.1f s" % (step.__name__, time.time() - t0))
    finally:
        stop_server()
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
