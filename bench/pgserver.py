"""bench/pgserver.py — a throw-away PostgreSQL server with ntg, and the nDPI benchmark rows.

Used by the Python benchmarks in bench/ (run them through bench/run_as_postgres.sh).  The server
is started and stopped by test/lib/pg_harness.sh, as for the tests and the shell benchmarks."""
import csv
import os
import re
import shutil
import subprocess
import tempfile

HARNESS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "test", "lib",
                       "pg_harness.sh")
EXCLUDE = re.compile(r"fuzz|badpackets|garbage|malformed|crash|ossfuzz", re.I)


def ndpi_rows(data_dir):
    """(label, [signed PLs]) of the 30 recommended label_app classes, as docs/data.md defines them."""
    ndpi = os.path.join(data_dir, "ndpi")
    classes = set()
    with open(os.path.join(ndpi, "recommended_classes_min30.txt")) as f:
        for line in f:
            if line.strip() and not line.startswith("#"):
                classes.add(line.split("\t")[0].strip())
    rows = []
    with open(os.path.join(ndpi, "flows.tsv")) as f:
        for r in csv.DictReader(f, delimiter="\t"):
            if EXCLUDE.search(r["pcap"]) or r["label_app"] not in classes:
                continue
            if int(r["payload_pkts"]) == 0 or not r["first10_signed_payload"]:
                continue
            rows.append((r["label_app"], [int(v) for v in r["first10_signed_payload"].split(",")]))
    return rows


class Server:
    """A throw-away server from test/lib/pg_harness.sh (the one the shell benchmarks and the tests
    use), with ntg created in database postgres; psql helpers; stop() removes everything.
    Runs as the postgres user or another non-root user: bench/run_as_postgres.sh sees to that."""

    def __init__(self, port=54339):
        self.dir = tempfile.mkdtemp(prefix="ntg-bench-pg.")
        # no parallel plans: both sides of a comparison run on one core
        env = dict(os.environ, NTG_SERVER_OPTS="-c max_parallel_workers_per_gather=0")
        out = subprocess.run(["bash", HARNESS, "start", self.dir, str(port)], env=env,
                             capture_output=True, text=True)
        if out.returncode != 0:
            shutil.rmtree(self.dir, ignore_errors=True)
            raise RuntimeError("could not start the server: " + out.stderr)
        self.env = dict(line.split("=", 1) for line in out.stdout.splitlines() if "=" in line)
        self.bindir = self.env["NTG_BINDIR"]
        self.psql("CREATE EXTENSION ntg; SET ntg.progress = off;", db="postgres")

    def psql(self, sql, db="postgres", stdin=None):
        out = subprocess.run([os.path.join(self.bindir, "psql"), "-qAtX", "-v", "ON_ERROR_STOP=1",
                              "-h", self.env["PGHOST"], "-p", self.env["PGPORT"], "-U", self.env["PGUSER"],
                              "-d", db, "-c", sql],
                             input=stdin, capture_output=True, text=True)
        if out.returncode != 0:
            raise RuntimeError(out.stderr)
        return out.stdout.strip()

    def load(self, table, rows):
        """Create table (label text, pl integer[]) with rows."""
        self.psql(f"DROP TABLE IF EXISTS {table}; CREATE TABLE {table} (id serial, label text, pl integer[]);")
        body = "".join(f"{lab}\t{{{','.join(map(str, pl))}}}\n" for lab, pl in rows)
        self.psql(f"COPY {table} (label, pl) FROM STDIN", stdin=body)

    def stop(self):
        subprocess.run(["bash", HARNESS, "stop", self.dir], stdout=subprocess.DEVNULL)
        shutil.rmtree(self.dir, ignore_errors=True)
