"""bench/pgserver.py — a throw-away PostgreSQL server with ntg, and the nDPI benchmark rows.

Used by the benchmarks in bench/ (run them through bench/run_as_postgres.sh)."""
import csv
import os
import re
import shutil
import subprocess
import tempfile

EXCLUDE = re.compile(r"fuzz|badpackets|garbage|malformed|crash|ossfuzz", re.I)


def ndpi_rows(data_dir):
    """(label, [signed PLs]) of the 30 recommended label_app classes, as data/README.md defines them."""
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
    """initdb + pg_ctl start on a private socket; psql helpers; stop() removes everything."""

    def __init__(self, bindir, port=54339):
        self.bindir = bindir
        self.dir = tempfile.mkdtemp(prefix="ntg-bench-pg.")
        self.port = str(port)
        data = os.path.join(self.dir, "data")
        subprocess.run([os.path.join(bindir, "initdb"), "-D", data, "--no-locale", "-E", "UTF8",
                        "-A", "trust"], check=True, stdout=subprocess.DEVNULL)
        with open(os.path.join(data, "postgresql.conf"), "a") as f:
            f.write("fsync = off\nlc_messages = 'C'\nmax_parallel_workers_per_gather = 0\n")
        subprocess.run([os.path.join(bindir, "pg_ctl"), "-D", data, "-w", "-l",
                        os.path.join(self.dir, "server.log"), "-o",
                        f"-k {self.dir} -c listen_addresses= -p {self.port}", "start"],
                       check=True, stdout=subprocess.DEVNULL)
        self.data = data
        self.psql("CREATE EXTENSION ntg; SET ntg.progress = off;", db="postgres")

    def psql(self, sql, db="postgres", stdin=None):
        out = subprocess.run([os.path.join(self.bindir, "psql"), "-qAtX", "-v", "ON_ERROR_STOP=1",
                              "-h", self.dir, "-p", self.port, "-d", db, "-c", sql],
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
        subprocess.run([os.path.join(self.bindir, "pg_ctl"), "-D", self.data, "-m", "fast", "stop"],
                       stdout=subprocess.DEVNULL)
        shutil.rmtree(self.dir, ignore_errors=True)
