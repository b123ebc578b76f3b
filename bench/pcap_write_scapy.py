#!/usr/bin/python3
"""pcap_write_scapy.py — bench/pcap_write_bench.sh's reference: what a Python user would write to
turn (label, pl) rows into a capture with scapy (python3-scapy): the same conversations as
ntg.write_pcap (TCP handshake, one segment per value up to the MSS, an ACK after every second
unacknowledged segment, FIN close; UDP datagrams), zero payload, checksums computed by scapy,
written with wrpcap.  Usage: pcap_write_scapy.py ROWS.tsv OUT.pcap MAX_ROWS
Prints: biflows packets bytes seconds (building and writing)."""
import os
import sys
import time

from scapy.all import IP, TCP, UDP, Ether, Raw, wrpcap  # noqa: E402

MSS = 65495


def rows(path, limit):
    with open(path) as f:
        for i, line in enumerate(f):
            if i >= limit:
                break
            label, pl = line.rstrip("\n").split("\t")
            yield label, [int(v) for v in pl.strip("{}").split(",") if v]


def conversation(i, pl, t):
    cli, srv = "198.18.%d.%d" % (i >> 8 & 255, i & 255), "198.19.0.1"
    cport, sport = 49152 + i % 16384, 40000
    ends = [(cli, cport), (srv, sport)]
    seq = [1000, 5000]
    pkts = []

    def send(d, flags, n=0):
        nonlocal t
        (s, sp), (r, rp) = ends[d], ends[1 - d]
        p = Ether() / IP(src=s, dst=r, flags="DF") / TCP(sport=sp, dport=rp, flags=flags, seq=seq[d],
                                                         ack=seq[1 - d] if "A" in flags else 0, window=2048)
        if n:
            p = p / Raw(bytes(n))
        p.time = t
        t += 0.001
        pkts.append(p)
        seq[d] += n + (1 if ("S" in flags or "F" in flags) else 0)

    send(0, "S")
    send(1, "SA")
    send(0, "A")
    unacked = [0, 0]
    for v in pl:
        d, left = (0 if v > 0 else 1), abs(v)
        while left:
            n = min(left, MSS)
            left -= n
            send(d, "PA" if left == 0 else "A", n)
            unacked[1 - d] = 0
            unacked[d] += 1
            if unacked[d] >= 2:
                send(1 - d, "A")
                unacked[d] = 0
    send(0, "FA")
    send(1, "FA")
    send(0, "A")
    return pkts, t


def main():
    src, out, limit = sys.argv[1], sys.argv[2], int(sys.argv[3])
    t0 = time.monotonic()
    pkts, t, n = [], 1735689600.0, 0
    for i, (label, pl) in enumerate(rows(src, limit)):
        ps, t = conversation(i, pl, t)
        pkts.extend(ps)
        n += 1
    wrpcap(out, pkts)
    print(n, len(pkts), os.path.getsize(out), "%.3f" % (time.monotonic() - t0))


if __name__ == "__main__":
    main()
