#!/usr/bin/python3
"""capture_flowtest.t — CESNET FlowTest's validation suite (a peer's test suite for flow exporters,
flowtest/ of the benchmark data, docs/data.md) through ntg: every annotated flow of every case, packets and IP bytes in
each direction, the annotation's source being ntg's client.

Cases that differ by design are listed below with their reason and checked for what they must be
instead; any other difference fails.  Skips (counted as skipped) when the data or PyYAML is absent."""
import ipaddress
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import taplib  # noqa: E402

shared = os.environ.get("NTG_SHARED_DATA", "")
suite = os.path.join(shared, "flowtest") if shared else ""
if not suite or not os.path.isdir(os.path.join(suite, "validation")):
    print("1..0 # SKIP flowtest/ of the benchmark data is absent (docs/data.md)")
    sys.exit(0)
try:
    import yaml
except ImportError:
    print("1..0 # SKIP PyYAML (python3-yaml) is not installed")
    sys.exit(0)

# Flows ntg counts differently on purpose, by case file.
BY_DESIGN = {
    "wireguard.yml":
        "protocol-aware flow splitting: the peer's probe starts a new flow record at each WireGuard "
        "handshake (new sender and receiver indexes); ntg keeps one biflow per UDP port pair, which "
        "must then hold exactly the sum of the annotated flows",
}
NON_TCP_UDP = ("protocol %d is neither TCP nor UDP: ntg makes biflows of TCP and UDP only and counts "
               "these packets in skipped.non_tcp_udp, so no biflow may join the two addresses")

tap = taplib.Tap()
cases = []
for name in sorted(os.listdir(os.path.join(suite, "validation"))):
    if name.endswith(".yml"):
        with open(os.path.join(suite, "validation", name)) as f:
            cases.append((name, yaml.safe_load(f)))
pcaps = sorted({c["pcap"] for _, c in cases})
paths = "ARRAY[%s]" % ", ".join("'%s'" % os.path.join(suite, "pcap", p).replace("'", "''") for p in pcaps)

ok = True
try:
    taplib.psql("CREATE TABLE ft_flows (LIKE ntg.biflows INCLUDING DEFAULTS INCLUDING IDENTITY)")
    imported = taplib.psql("SET ntg.progress = off; SELECT count(*) FROM ntg.import_pcaps(%s, "
                           "target => 'ft_flows') WHERE error IS NULL" % paths).strip()
except RuntimeError as e:
    imported, ok = str(e), False
tap.ok(ok and imported == str(len(pcaps)), "the suite's %d captures import in one call" % len(pcaps), imported)

rows = {}
for line in taplib.psql("SELECT dataset, protocol, host(client_ip), client_port, host(server_ip), "
                        "server_port, packets_up, packets_down, bytes_up, bytes_down FROM ft_flows",
                        sep="\t").splitlines():
    f = line.split("\t")
    rows.setdefault(f[0], []).append((int(f[1]), ipaddress.ip_address(f[2]), int(f[3]),
                                      ipaddress.ip_address(f[4]), int(f[5])) + tuple(map(int, f[6:10])))


def counts(flow):
    return (flow.get("packets", 0), flow.get("packets@rev", 0), flow.get("bytes", 0), flow.get("bytes@rev", 0))


def biflows(pcap, flow):
    """ntg's biflows of the flow's protocol with the annotation's source as client."""
    src, dst = ipaddress.ip_address(flow["src_ip"]), ipaddress.ip_address(flow["dst_ip"])
    return [r[5:] for r in rows.get(pcap, [])
            if r[0] == flow["protocol"] and r[1:5] == (src, flow["src_port"], dst, flow["dst_port"])]


exact = total = 0
for name, case in cases:
    pcap = case["pcap"]
    flows = case["flows"]
    if name in BY_DESIGN:
        want = tuple(sum(c) for c in zip(*(counts(f) for f in flows)))
        got = biflows(pcap, flows[0])
        total += len(flows)
        tap.ok(got == [want] and all(biflows(pcap, f) == got for f in flows),
               "%s: %d annotated flows = one ntg biflow %s (by design: %s)"
               % (name, len(flows), want, BY_DESIGN[name]), "ntg: %s" % got)
        continue
    for i, flow in enumerate(flows, 1):
        if flow["protocol"] not in (6, 17):
            pair = {ipaddress.ip_address(flow["src_ip"]), ipaddress.ip_address(flow["dst_ip"])}
            joined = [r for r in rows.get(pcap, []) if {r[1], r[3]} == pair]
            tap.ok(not joined, "%s flow %d: no biflow (by design: %s)"
                   % (name, i, NON_TCP_UDP % flow["protocol"]), "ntg: %s" % joined)
            continue
        total += 1
        got = biflows(pcap, flow)
        exact += got == [counts(flow)]
        tap.ok(got == [counts(flow)],
               "%s flow %d: %s:%s > %s:%s packets %d/%d bytes %d/%d"
               % ((name, i, flow["src_ip"], flow["src_port"], flow["dst_ip"], flow["dst_port"]) + counts(flow)),
               "ntg (packets up/down, bytes up/down): %s" % got)
print("# %d of %d annotated TCP/UDP flows exact; the others differ by design (%s)"
      % (exact, total, ", ".join(sorted(BY_DESIGN))))

# The suite's VXLAN case with decapsulate: the outer UDP biflows give way to the inner packets
# (ICMP, so no biflow: they are counted as non-TCP/UDP).
vx = os.path.join(suite, "pcap", "vxlan.pcap").replace("'", "''")
outer = taplib.psql("SELECT count(*) FROM ntg.read_pcap('%s') WHERE server_port = 4789" % vx).strip()
inner = taplib.psql("SELECT biflows, skipped->>'non_tcp_udp' FROM ntg.import_pcap('%s', target => 'ft_flows', "
                    "dataset => 'decap', decapsulate => true)" % vx, sep=" ").strip()
tap.ok(outer == "2" and inner == "0 8", "vxlan.pcap: two one-way outer biflows by default; decapsulated, "
       "its 8 inner ICMP packets", "outer biflows %s, decapsulated biflows/non_tcp_udp %s" % (outer, inner))
taplib.psql("DROP TABLE ft_flows")
sys.exit(tap.done())
