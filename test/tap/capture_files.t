#!/usr/bin/python3
"""capture_files.t — ntg.import_pcaps: many capture files in one call.

Small captures written to a temporary directory are imported by pattern and by list, read by
background workers (ntg.import_workers = 2) and in the backend (0): the same rows either way,
one result row per file in the given order, a WARNING and an error row for a file that is no
capture, directories left out, the generic INSERT path for a target with a trigger, argument
errors, privileges; and a long import of many files cancelled by statement_timeout leaves no
worker behind and the backend usable."""
import os
import re
import shutil
import struct
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import taplib  # noqa: E402

tap = taplib.Tap()
tmp = tempfile.mkdtemp(prefix="ntg-files-")
os.chmod(tmp, 0o755)


def capture(path, flows, packets_per_flow=3, base=0):
    """An Ethernet pcap: `flows` TCP biflows 10.0.x.y:40000+i -> 10.1.0.1:443, data both ways."""
    out = [struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1)]
    for i in range(flows):
        cli = bytes([10, 0, (base + i) >> 8 & 255, (base + i) & 255])
        srv = bytes([10, 1, 0, 1])
        for k in range(packets_per_flow):
            up = k % 2 == 0
            pl = 100 + k if up else 1000 + k
            ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 40 + pl, 0, 0, 64, 6, 0, cli if up else srv, srv if up else cli)
            tcp = struct.pack("!HHIIBBHHH", 40000 + i if up else 443, 443 if up else 40000 + i, 0, 0, 0x50, 0x18, 1000, 0, 0)
            frame = bytes(12) + b"\x08\x00" + ip + tcp + bytes(pl)
            out.append(struct.pack("<IIII", 1700000000 + k, i, len(frame), len(frame)) + frame)
    with open(path, "wb") as f:
        f.write(b"".join(out))
    os.chmod(path, 0o644)


for n in range(6):
    capture(os.path.join(tmp, "cap%d.pcap" % n), 20 + n, base=100 * n)
with open(os.path.join(tmp, "notes.pcap"), "w") as f:
    f.write("this is no capture\n")
os.chmod(os.path.join(tmp, "notes.pcap"), 0o644)
os.mkdir(os.path.join(tmp, "sub.pcap"))
os.chmod(os.path.join(tmp, "sub.pcap"), 0o755)
q = lambda s: "'" + s.replace("'", "''") + "'"


def script(sql):
    """A psql script (quiet: no command tags), errors not fatal."""
    return taplib.psql_script("\\set QUIET 1\n" + sql)


pattern = q(os.path.join(tmp, "*.pcap"))
COLS = ("regexp_replace(path, '.*/', ''), dataset, format, packets, bytes, packets_in_biflows, biflows, "
        "skipped, damaged, damage, error")

taplib.psql("CREATE TABLE files_w (LIKE ntg.biflows INCLUDING DEFAULTS INCLUDING IDENTITY);"
            "CREATE TABLE files_0 (LIKE ntg.biflows INCLUDING DEFAULTS INCLUDING IDENTITY)")
p = script("SET client_min_messages = debug1; SET ntg.import_workers = 2;"
                       "SELECT %s FROM ntg.import_pcaps(%s, label => 'w', target => 'files_w');" % (COLS, pattern))
with_workers = p.stdout.strip().splitlines()
tap.ok("7 files read by 2 workers" in p.stderr, "read by two background workers", p.stderr)
tap.ok(len(with_workers) == 7 and [l.split("|")[0] for l in with_workers] ==
       ["cap%d.pcap" % i for i in range(6)] + ["notes.pcap"],
       "one row per file in the pattern's order, the directory left out", p.stdout)
tap.ok(re.search(r'WARNING:  capture file ".*notes.pcap" was not imported: capture file ".*notes.pcap" is not a pcap',
                 p.stderr) is not None and with_workers[-1].endswith("is not a pcap or pcapng capture"),
       "a file that is no capture: a WARNING and its error in the row", p.stderr)
tap.ok([int(l.split("|")[6]) for l in with_workers[:6]] == [20 + i for i in range(6)],
       "each file's biflows counted in its row", p.stdout)
p0 = script("SET ntg.import_workers = 0;"
                        "SELECT %s FROM ntg.import_pcaps(%s, label => 'w', target => 'files_0');" % (COLS, pattern))
tap.ok(p0.stdout == p.stdout, "the backend alone gives the same result rows", p0.stdout)
diff = taplib.psql("SELECT count(*) FROM ((SELECT dataset, label, source, protocol, client_ip, client_port, "
                   "server_ip, server_port, first_seen, packets_up, packets_down, pl FROM files_w "
                   "EXCEPT ALL SELECT dataset, label, source, protocol, client_ip, client_port, server_ip, "
                   "server_port, first_seen, packets_up, packets_down, pl FROM files_0) UNION ALL "
                   "(SELECT dataset, label, source, protocol, client_ip, client_port, server_ip, server_port, "
                   "first_seen, packets_up, packets_down, pl FROM files_0 EXCEPT ALL SELECT dataset, label, "
                   "source, protocol, client_ip, client_port, server_ip, server_port, first_seen, packets_up, "
                   "packets_down, pl FROM files_w)) d").strip()
total = taplib.psql("SELECT count(*) || ' ' || count(DISTINCT dataset) || ' ' || count(DISTINCT source) "
                    "FROM files_w").strip()
tap.ok(diff == "0" and total == "%d 6 6" % sum(20 + i for i in range(6)),
       "the same biflows in the table, each with its file's dataset and source", "%s / %s" % (diff, total))

# a list, with a dataset for all, a missing file, and the generic path (a table with a trigger)
taplib.psql("CREATE TABLE files_trg (LIKE ntg.biflows INCLUDING DEFAULTS INCLUDING IDENTITY);"
            "CREATE FUNCTION files_count() RETURNS trigger LANGUAGE plpgsql AS "
            "'BEGIN UPDATE files_seen SET n = n + 1; RETURN NEW; END';"
            "CREATE TABLE files_seen (n int); INSERT INTO files_seen VALUES (0);"
            "CREATE TRIGGER c AFTER INSERT ON files_trg FOR EACH ROW EXECUTE FUNCTION files_count()")
lst = "ARRAY[%s, '/nonexistent/x.pcap', %s]" % (q(os.path.join(tmp, "cap1.pcap")), q(os.path.join(tmp, "cap2.pcap")))
p = script("SET client_min_messages = debug1;"
                       "SELECT %s FROM ntg.import_pcaps(%s, dataset => 'lab', target => 'files_trg');" % (COLS, lst))
rows = p.stdout.strip().splitlines()
tap.ok("INSERT into public.files_trg because it has triggers" in p.stderr and len(rows) == 3 and
       rows[0].split("|")[1] == "lab" and rows[0].split("|")[6] == "21" and rows[2].split("|")[6] == "22" and
       rows[1].endswith('could not open capture file "/nonexistent/x.pcap": No such file or directory'),
       "a list: generic INSERT path, one dataset for all, the missing file reported", p.stdout + p.stderr)
tap.ok(taplib.psql("SELECT n FROM files_seen").strip() == "43", "the row trigger fired once per biflow")

errors = [
    ("SELECT * FROM ntg.import_pcaps(%s)" % q(os.path.join(tmp, "*.nothing")), "no capture file matches"),
    ("SELECT * FROM ntg.import_pcaps(NULL::text)", "pattern must not be null"),
    ("SELECT * FROM ntg.import_pcaps(ARRAY['a', NULL])", "paths must not contain nulls"),
    ("SELECT * FROM ntg.import_pcaps(%s, client_rule => 'last')" % pattern, 'client_rule must be "port" or "first"'),
    ("SELECT * FROM ntg.import_pcaps(%s, filter => 'host db.example')" % pattern, "names a host, network or service"),
]
for sql, msg in errors:
    p = script(sql + ";")
    tap.ok(msg in p.stderr, "error: %s" % msg, p.stderr)
tap.ok(taplib.psql("SELECT count(*) FROM ntg.import_pcaps('{}'::text[])").strip() == "0",
       "an empty list imports nothing")

# labels of pcapng packet comments (ntg.write_pcap_file) come through the workers
labelled = os.path.join(tmp, "labelled.pcapng")
taplib.psql("SELECT ntg.write_pcap_file(%s, $$SELECT * FROM (VALUES ('web', '{100,-200}'::int[]), "
            "('dns', '{40,-80}'::int[])) v(label, pl)$$)" % q(labelled))
os.chmod(labelled, 0o644)
got = script("SET ntg.import_workers = 2; SET client_min_messages = debug1;"
             "SELECT biflows FROM ntg.import_pcaps(ARRAY[%s, %s], target => 'files_0');"
             "SELECT string_agg(label, ',' ORDER BY label) FROM files_0 WHERE source = %s;"
             % (q(labelled), q(labelled), q(labelled)))
tap.ok("files read by 2 workers" in got.stderr and got.stdout.split() == ["2", "2", "dns,dns,web,web"],
       "labels of packet comments come through the workers", got.stdout + got.stderr)

# privileges: reading server files needs pg_read_server_files, as COPY does
taplib.psql("CREATE ROLE files_user; GRANT USAGE ON SCHEMA ntg TO files_user; GRANT INSERT ON files_0 TO files_user")
p = script("SET ROLE files_user; SELECT count(*) FROM ntg.import_pcaps(%s, target => 'files_0');" % pattern)
tap.ok("permission denied to read capture file" in p.stderr, "without pg_read_server_files: refused", p.stderr)
taplib.psql("GRANT pg_read_server_files TO files_user")
p = script("SET ROLE files_user; SET client_min_messages = error;"
                       "SELECT count(*) FROM ntg.import_pcaps(%s, target => 'files_0');" % pattern)
tap.ok(p.stdout.strip() == "7", "with pg_read_server_files: imported", p.stdout + p.stderr)

# Cancel: the same 12 MB capture 40 times, in two workers; statement_timeout ends it mid-way.
big = os.path.join(tmp, "big.pcap")
capture(big, 20000, packets_per_flow=10)
cancel = """
SET ntg.progress = off;
SELECT pg_backend_pid() AS pid \\gset
\\setenv NTG_PID :pid
SET statement_timeout = '300ms';
SELECT count(*) FROM ntg.import_pcaps(array_fill(%s::text, ARRAY[40]), target => 'files_0');
RESET statement_timeout;
\\! echo leader $NTG_PID
SELECT 'usable', count(*) > 0 FROM ntg.read_pcap(%s);
""" % (q(big), q(big))
p = script(cancel)
tap.ok("canceling statement due to statement timeout" in p.stderr, "statement_timeout cancels a many-file import",
       p.stderr)
leader = re.search(r"leader (\d+)", p.stdout)


def readers(pid):
    found = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open("/proc/%s/cmdline" % d, "rb") as f:
                    cmd = f.read().decode(errors="replace")
            except OSError:
                continue
            if "ntg capture reader" in cmd and ("for PID %s" % pid) in cmd:
                found.append(d)
    return found


left = ["?"]
for _ in range(50):
    left = readers(leader.group(1)) if leader else ["?"]
    if not left:
        break
    time.sleep(0.1)
tap.ok(leader is not None and not left, "no capture reader worker is left after the cancel", "left: %s" % left)
tap.ok("usable|t" in p.stdout, "the backend reads captures again after the cancel", p.stdout)
taplib.psql("DROP TABLE files_w, files_0, files_trg, files_seen; DROP FUNCTION files_count();"
            "REVOKE USAGE ON SCHEMA ntg FROM files_user; DROP ROLE files_user")
shutil.rmtree(tmp)
sys.exit(tap.done())
