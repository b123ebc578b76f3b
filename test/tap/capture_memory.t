#!/usr/bin/python3
"""capture_memory.t — the biflow table is bounded by ntg.import_memory.

A raw-IP pcap of 1,000,000 one-packet UDP flows (44 MB, the size that once took a backend to
4.3 GB with n = 1000) is written to a temporary directory and read with n = 1000 and the timeouts
off, so that every flow stays alive to the end.  The backend's peak resident memory (VmHWM, reset
through /proc/PID/clear_refs before each read) must stay within the limit plus a margin for the
tuplestore (work_mem), the read window and the rows; every flow still comes out as one biflow,
and a WARNING counts the biflows ended early."""
import os
import shutil
import struct
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import taplib  # noqa: E402

FLOWS = 1000000
tap = taplib.Tap()
tmp = tempfile.mkdtemp(prefix="ntg-memory-")
os.chmod(tmp, 0o755)
path = os.path.join(tmp, "flows.pcap")
udp = struct.pack("!HHHH", 53, 53, 8, 0)
with open(path, "wb") as f:
    f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 101))
    rec = struct.pack("<IIII", 1700000000, 0, 28, 28)
    head = struct.pack("!BBHHHBBH", 0x45, 0, 28, 0, 0, 64, 17, 0)
    f.write(b"".join(rec + head + struct.pack("!I", 0x0a000000 + i) + b"\xc0\x00\x02\x01" + udp
                     for i in range(FLOWS)))
os.chmod(path, 0o644)
tap.ok(os.path.getsize(path) == 24 + 44 * FLOWS, "wrote %d one-packet flows (%.0f MB)"
       % (FLOWS, os.path.getsize(path) / 1e6))

script = """
SET ntg.progress = off;
SELECT pg_backend_pid() AS pid \\gset
\\setenv NTG_PID :pid
\\! echo 5 > /proc/$NTG_PID/clear_refs; grep VmHWM /proc/$NTG_PID/status
SET ntg.import_memory = '16MB';
SELECT count(*) AS biflows_16mb FROM ntg.read_pcap('%(p)s', n => 1000, idle_timeout => NULL, active_timeout => NULL);
\\! grep VmHWM /proc/$NTG_PID/status; echo 5 > /proc/$NTG_PID/clear_refs; grep VmHWM /proc/$NTG_PID/status
RESET ntg.import_memory;
SHOW maintenance_work_mem;
SELECT count(*) AS biflows_default FROM ntg.read_pcap('%(p)s', n => 1000, idle_timeout => NULL, active_timeout => NULL);
\\! grep VmHWM /proc/$NTG_PID/status
""" % {"p": path.replace("'", "''")}
p = taplib.psql_script(script, timeout=600)
lines = p.stdout.split()
kb = [int(lines[i + 1]) for i, w in enumerate(lines) if w == "VmHWM:"]
counts = [w for w in lines if w.isdigit() and int(w) == FLOWS]
print("# stdout: %s" % " ".join(lines))
print("# stderr: %s" % p.stderr.strip().replace("\n", " | "))
tap.ok(len(counts) == 2, "every flow is one biflow, with and without ending biflows early")
tap.ok("biflows of capture file" in p.stderr and "ended early" in p.stderr and "16384 kB" in p.stderr,
       "a WARNING counts the biflows ended early at the 16 MB limit", p.stderr)
if len(kb) == 4:
    grew16, grew64 = (kb[1] - kb[0]) / 1024.0, (kb[3] - kb[2]) / 1024.0
    print("# peak resident memory grew by %.0f MB at ntg.import_memory = 16MB, by %.0f MB at the default "
          "(maintenance_work_mem = 64MB); n x 4 bytes per flow up front would be 4 GB" % (grew16, grew64))
    tap.ok(grew16 < 16 + 48, "16 MB limit: the backend grows by < 64 MB (%.0f MB)" % grew16)
    tap.ok(grew64 < 64 + 48, "default limit (maintenance_work_mem 64 MB): the backend grows by < 112 MB (%.0f MB)"
           % grew64)
else:
    tap.ok(False, "16 MB limit: peak memory measured", p.stdout)
    tap.ok(False, "default limit: peak memory measured", p.stdout)
shutil.rmtree(tmp)
sys.exit(tap.done())
