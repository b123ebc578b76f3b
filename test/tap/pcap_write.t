#!/usr/bin/python3
"""pcap_write.t — captures written by ntg.write_pcap_file, checked by tshark and read back.

Three captures of the same 400 synthetic biflows (7 classes, TCP and UDP through the classes
argument, UDP biflows that start from the server, empty sequences, values up to the largest
segment): the defaults (zero payload, MSS 65495); MSS 1460 with IPv6 endpoints given for a quarter
of the rows; random payload.
  - tshark, with IPv4/TCP/UDP checksum validation on, reports no malformed packet and no expert
    information of severity warning or error (notes, chats and the packet comments are allowed).
    Random payload is only checked for its checksums: its bytes trip tshark's heuristic dissectors
    (RTCP, COTP over UDP, ...), which then call the packets malformed (docs/pcap-export.md).
  - tshark's own dissection (tcp/udp streams, payload lengths, frame comments) gives back every
    biflow's label and signed payload lengths: exactly the rows, or with MSS 1460 the rows with
    values split into MSS-sized segments;
  - ntg.read_pcap gives back exactly the (label, pl) rows.
The checker itself is checked: one flipped bit must make tshark report a bad checksum."""
import collections
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import taplib  # noqa: E402

tap = taplib.Tap()
TSHARK = shutil.which("tshark")
if not TSHARK:
    print("1..0 # SKIP tshark is not installed (test/deps.sh installs it)")
    sys.exit(0)

CHECKSUMS = ["-o", "ip.check_checksum:TRUE", "-o", "tcp.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE"]
work = tempfile.mkdtemp(prefix="ntg-pcap-write-")
os.chmod(work, 0o777)

SETUP = """
SET ntg.progress = off;
DROP TABLE IF EXISTS pw_rows;
SELECT setseed(0.42);
CREATE TABLE pw_rows AS
SELECT i, 'c' || (i % 7) AS label,
       CASE WHEN i % 37 = 0 THEN '{}'::int[] ELSE
       ARRAY(SELECT ((CASE WHEN random() < 0.5 THEN 1 ELSE -1 END) *
                     (1 + floor(random() * CASE WHEN i % 7 >= 5 THEN 1400 WHEN i % 5 = 0 THEN 65495 ELSE 1500 END)))::int
               FROM generate_series(1, 1 + (i % 12)) WHERE i > 0) END AS pl,
       CASE WHEN i % 4 = 0 THEN ('2001:db8:1::' || to_hex(i))::inet END AS client_ip,
       CASE WHEN i % 4 = 0 THEN '2001:db8:2::1'::inet END AS server_ip
  FROM generate_series(1, 400) i;
"""
CLASSES = '{"c5": {"protocol": "udp", "server_port": 40053}, "c6": {"protocol": 17}, "c0": 40080}'


def tshark(path, *args):
    p = subprocess.run([TSHARK, "-r", path] + CHECKSUMS + list(args), capture_output=True, text=True)
    return p.returncode, p.stdout, p.stderr


def expert_problems(path):
    """(sections of -z expert at warning level or above, packets that are malformed or warn)."""
    rc, out, err = tshark(path, "-q", "-z", "expert")
    bad_sections = [l for l in out.splitlines() if l.startswith(("Errors", "Warns"))]
    rc2, out2, err2 = tshark(path, "-Y", "_ws.malformed or _ws.expert.severity >= 0x00600000")
    return rc, bad_sections, [l for l in out2.splitlines() if l.strip()], out


def tshark_biflows(path):
    """(label, tuple of signed payload lengths) per TCP/UDP stream, from tshark's dissection."""
    fields = ["tcp.stream", "udp.stream", "ip.src", "ipv6.src", "tcp.srcport", "udp.srcport",
              "tcp.len", "udp.length", "frame.comment"]
    args = ["-T", "fields", "-E", "separator=/t"]
    for f in fields:
        args += ["-e", f]
    rc, out, err = tshark(path, *args)
    streams = collections.OrderedDict()
    for line in out.splitlines():
        c = line.split("\t")
        c += [""] * (len(fields) - len(c))
        key = ("tcp", c[0]) if c[0] else ("udp", c[1])
        src = (c[2] or c[3], c[4] or c[5])
        plen = int(c[6]) if c[0] else int(c[7]) - 8
        s = streams.setdefault(key, {"client": src, "label": None, "pl": []})
        if c[8].startswith("ntg-label: ") and s["label"] is None:
            s["label"] = c[8][len("ntg-label: "):]
        if plen > 0:
            s["pl"].append(plen if src == s["client"] else -plen)
    return rc, [(s["label"], tuple(s["pl"])) for s in streams.values()]


def split(pl, mss):
    out = []
    for v in pl:
        m, sign = abs(v), 1 if v > 0 else -1
        out += [sign * mss] * (m // mss) + ([sign * (m % mss)] if m % mss else [])
    return tuple(out)


taplib.psql(SETUP)
rows = [(l, tuple(int(x) for x in p.strip("{}").split(",") if x))
        for l, p in (r.split("|") for r in taplib.psql("SELECT label, pl FROM pw_rows ORDER BY i").splitlines())]
tap.ok(len(rows) == 400 and any(len(p) == 0 for _, p in rows) and max(max(map(abs, p), default=0) for _, p in rows) > 1460,
       "400 rows, some empty, some values beyond 1460")

def checksums_good(path):
    """Packets whose IPv4, TCP or UDP checksum tshark does not find good; packets seen."""
    rc, out, err = tshark(path, "-T", "fields", "-e", "ip.checksum.status", "-e", "tcp.checksum.status",
                          "-e", "udp.checksum.status")
    lines = out.splitlines()
    bad = [l for l in lines if any(v not in ("", "1") for v in l.split("\t")) or l.split("\t")[1:] == ["", ""]]
    return rc, bad, len(lines)


plain = os.path.join(work, "plain.pcapng")
mss1460 = os.path.join(work, "mss1460.pcapng")
rand = os.path.join(work, "random.pcapng")
for path, args, what in ((plain, "", "the default capture"),
                         (mss1460, ", mss => 1460", "the MSS 1460 capture with IPv6 rows"),
                         (rand, ", payload => 'random', seed => 7", "the random payload capture")):
    out = taplib.psql("SELECT biflows, packets FROM ntg.write_pcap_file('%s', 'SELECT label, pl, client_ip, server_ip "
                      "FROM pw_rows ORDER BY i', classes => '%s'%s)" % (path, CLASSES, args))
    tap.ok(out.strip().startswith("400|"), "%s is written (biflows|packets: %s)" % (what, out.strip()), out)

rc, bad, n = checksums_good(rand)
tap.ok(rc == 0 and n > 4000 and not bad, "random payload: tshark finds every IPv4, TCP and UDP checksum of %d packets good" % n,
       "\n".join(bad[:10]))
for name, path, want in (("default", plain, [(l, p) for l, p in rows]),
                         ("MSS 1460", mss1460, [(l, split(p, 1460)) for l, p in rows]),
                         ("random payload", rand, [(l, p) for l, p in rows])):
    if path != rand:
        rc, sections, flagged, report = expert_problems(path)
        tap.ok(rc == 0 and not sections, "%s: tshark -z expert lists no warnings or errors" % name, report)
        tap.ok(rc == 0 and not flagged, "%s: no packet is malformed or carries a warning (checksums verified)" % name,
               "\n".join(flagged[:20]))
    rc, got = tshark_biflows(path)
    tap.ok(rc == 0 and len(got) == 400, "%s: tshark finds 400 conversations" % name, str(len(got)))
    tap.ok(collections.Counter(got) == collections.Counter(want),
           "%s: tshark's streams give back every label and its payload lengths%s" % (name, ", split at the MSS" if name == "MSS 1460" else ""),
           "\n".join(str(x) for x in list((collections.Counter(got) - collections.Counter(want)).items())[:10]))

# ntg's own reader: exactly the rows back
for path in (plain, rand):
    diff = taplib.psql("""SELECT (SELECT count(*) FROM (SELECT label, pl FROM pw_rows EXCEPT ALL
                                  SELECT label, pl FROM ntg.read_pcap('%s', n => 100)) a) || ' ' ||
                                 (SELECT count(*) FROM (SELECT label, pl FROM ntg.read_pcap('%s', n => 100)
                                  EXCEPT ALL SELECT label, pl FROM pw_rows) b)""" % (path, path))
    tap.ok(diff.strip() == "0 0", "ntg.read_pcap gives back exactly the (label, pl) rows of %s"
           % os.path.basename(path), diff)

# The checker can fail: one flipped bit in the last packet's payload is a bad checksum.
with open(plain, "rb") as f:
    data = bytearray(f.read())
broken = os.path.join(work, "broken.pcapng")
# the last block is an Enhanced Packet Block: flip a byte well inside its packet data
blen = int.from_bytes(data[-4:], sys.byteorder)
start = len(data) - blen
data[start + 28 + 14 + 20 + 4] ^= 0x01      # in the TCP/UDP header's sequence number or length
with open(broken, "wb") as f:
    f.write(data)
rc, sections, flagged, report = expert_problems(broken)
tap.ok(sections and flagged, "a flipped bit is caught by the same check", report)

taplib.psql("DROP TABLE pw_rows")
shutil.rmtree(work, ignore_errors=True)
sys.exit(tap.done())
