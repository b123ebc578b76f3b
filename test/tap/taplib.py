"""test/tap/taplib.py — what the Python TAP scripts of test/tap share: TAP output and psql.

The scripts run under prove (test/run.sh) against the temporary server that PGHOST, PGPORT and
PGDATABASE name.  psql is the tree's tmp_install build when there is one, else the one on PATH."""
import os
import subprocess
import sys

_repo = os.environ.get("NTG_REPO", ".")
_tmp_psql = os.path.join(_repo, "tmp_install/usr/lib/postgresql/15/bin/psql")
PSQL = _tmp_psql if os.path.exists(_tmp_psql) else "psql"


class Tap:
    """Numbered TAP lines; the plan is printed last (done()), when the count is known."""

    def __init__(self):
        self.n = 0
        self.failed = 0

    def ok(self, cond, name, diag=""):
        """One test line; on failure, the last 20 lines of diag as TAP comments.  Returns cond."""
        self.n += 1
        print("%sok %d - %s" % ("" if cond else "not ", self.n, name))
        if not cond:
            self.failed += 1
            for line in str(diag or "").splitlines()[-20:]:
                print("#   " + line)
        sys.stdout.flush()
        return cond

    def skip(self, count, reason):
        for _ in range(count):
            self.n += 1
            print("ok %d # skip %s" % (self.n, reason))
        sys.stdout.flush()

    def done(self):
        """Print the plan; the exit status for sys.exit()."""
        print("1..%d" % self.n)
        return 1 if self.failed else 0


def run(args, timeout, **kwargs):
    """Run a command, its output captured; (exit status, stdout + stderr).  A command still running
    after timeout seconds is killed: status -1, its output so far and a line saying so."""
    try:
        r = subprocess.run(args, capture_output=True, text=True, timeout=timeout, **kwargs)
        return r.returncode, r.stdout + r.stderr
    except subprocess.TimeoutExpired as e:
        partial = "".join(x.decode(errors="replace") if isinstance(x, bytes) else x
                          for x in (e.stdout, e.stderr) if x)
        return -1, partial + "\n(killed after %d s)" % timeout


def psql(sql, stdin=None, sep=None):
    """Run one -c command string (unaligned, tuples only); its stdout, or RuntimeError with stderr."""
    args = [PSQL, "-XAtq", "-v", "ON_ERROR_STOP=1"] + (["-F", sep] if sep is not None else []) + ["-c", sql]
    out = subprocess.run(args, input=stdin, capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(out.stderr)
    return out.stdout


def psql_script(script, app="ntg_tap", timeout=300):
    """Run a psql script from standard input, errors not fatal; the CompletedProcess (NOTICEs and
    errors with their DETAIL in stderr).  app names the session in pg_stat_activity."""
    env = dict(os.environ, PGAPPNAME=app)
    return subprocess.run([PSQL, "-X", "-A", "-t", "-v", "VERBOSITY=default"], input=script, env=env,
                          capture_output=True, text=True, timeout=timeout)


def psql_db(db, sql):
    """psql() in another database of the same server."""
    args = [PSQL, "-XAtq", "-v", "ON_ERROR_STOP=1", "-d", db, "-c", sql]
    out = subprocess.run(args, capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(out.stderr)
    return out.stdout
