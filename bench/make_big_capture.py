#!/usr/bin/python3
"""bench/make_big_capture.py OUT.pcap MIN_PACKETS NDPI_PCAP_DIR

Write a synthetic-but-valid Ethernet pcap of at least MIN_PACKETS packets for the import bench:
real packets of the nDPI captures (classic pcap, Ethernet), replayed in rounds; every round XORs
the second octet of each IPv4/IPv6 source and destination address with the round number, so each
round's biflows are new ones, and timestamps are re-spaced 10 us apart (monotonic).  Goes to /tmp,
never into the repository.
"""
import os, struct, sys

out, want, src = sys.argv[1], int(sys.argv[2]), sys.argv[3]
packets = []
for name in sorted(os.listdir(src)):
    d = open(os.path.join(src, name), "rb").read()
    if len(d) < 24 or d[:4] not in (b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4"):
        continue
    e = "<" if d[:4] == b"\xd4\xc3\xb2\xa1" else ">"
    if struct.unpack(e + "I", d[20:24])[0] != 1:
        continue
    off = 24
    while off + 16 <= len(d):
        cl, wl = struct.unpack(e + "II", d[off + 8:off + 16])
        if cl > 65535 or off + 16 + cl > len(d):
            break
        packets.append((bytes(d[off + 16:off + 16 + cl]), wl))
        off += 16 + cl
rounds = (want + len(packets) - 1) // len(packets)
ts = 1700000000 * 1000000
with open(out, "wb") as f:
    f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
    for r in range(rounds):
        for data, wl in packets:
            b = bytearray(data)
            if len(b) >= 34 and b[12:14] == b"\x08\x00":
                b[27] ^= r & 0xff; b[31] ^= r & 0xff
            elif len(b) >= 54 and b[12:14] == b"\x86\xdd":
                b[23] ^= r & 0xff; b[39] ^= r & 0xff
            f.write(struct.pack("<IIII", ts // 1000000, ts % 1000000, len(b), wl))
            f.write(b)
            ts += 10
print("%d packets (%d rounds of %d)" % (rounds * len(packets), rounds, len(packets)))
