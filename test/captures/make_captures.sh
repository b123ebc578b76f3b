#!/usr/bin/env bash
# test/captures/make_captures.sh — record the project's own small test captures: real clients
# talking to real local servers on the loopback interface, recorded with tcpdump.
#   http.pcap       curl -> python3 http.server (microsecond pcap, Ethernet link type of lo)
#   dns_ns.pcap     DNS queries -> a tiny python3 UDP DNS server (nanosecond pcap)
#   tls.pcapng      openssl s_client -servername ... -> openssl s_server (converted to pcapng by editcap)
#   postgres.pcap   psql -> a throw-away PostgreSQL on 127.0.0.1, captured on "any" (Linux SLL2)
#   demo.pcapng     mergecap of the four: one pcapng with two interfaces (EN10MB and LINUX_SLL2)
# Needs root (tcpdump on lo), tcpdump, curl, openssl, editcap/mergecap (tshark's wireshark-common),
# postgresql-15.  Rerunning makes new files: regenerate expected/capture.out after it.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
py=/usr/bin/python3
work=$(mktemp -d /tmp/ntg-captures.XXXXXX)
chmod 755 "$work"
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	if [ -d "$work/pg" ]; then
		runuser -u postgres -- /usr/lib/postgresql/15/bin/pg_ctl -D "$work/pg" -m fast stop >/dev/null 2>&1 || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT

# start_capture FILE IFACE FILTER [tcpdump options]: record in the background until stop_capture.
start_capture() {
	local file=$1 iface=$2 filter=$3; shift 3
	tcpdump -i "$iface" -U -s 0 "$@" -w "$file" "$filter" 2>"$work/tcpdump.log" &
	cap_pid=$!
	sleep 1.5
}
stop_capture() {
	sleep 0.5
	kill -INT "$cap_pid"; wait "$cap_pid" || true
}

# ---- HTTP: curl against python's http.server ------------------------------------------------
mkdir -p "$work/www"
printf '<html><body><h1>ntg test page</h1><p>%s</p></body></html>\n' "$(seq 1 300 | tr '\n' ' ')" >"$work/www/index.html"
head -c 12000 /dev/zero | tr '\0' 'x' >"$work/www/data.txt"
$py -m http.server 18080 --bind 127.0.0.1 --directory "$work/www" >/dev/null 2>&1 &
pids+=($!)
sleep 1
start_capture "$work/http.pcap" lo "tcp port 18080"
curl -s -o /dev/null http://127.0.0.1:18080/
curl -s -o /dev/null http://127.0.0.1:18080/data.txt
curl -s -o /dev/null http://127.0.0.1:18080/missing
curl -s -o /dev/null -X POST -d 'a=1' http://127.0.0.1:18080/form
stop_capture

# ---- DNS: a tiny UDP server answering A/AAAA queries, a client sending real DNS messages --------
cat >"$work/dns.py" <<'PYEOF'
import socket, struct, sys
def server():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 18053))
    while True:
        q, addr = s.recvfrom(512)
        qid, flags, qd = struct.unpack("!HHH", q[:6])
        i = 12
        while q[i]: i += q[i] + 1
        qtype = struct.unpack("!H", q[i + 1:i + 3])[0]
        question = q[12:i + 5]
        if qtype == 1:
            ans = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 300, 4) + bytes([192, 0, 2, len(q) % 250])
        else:
            ans = b"\xc0\x0c" + struct.pack("!HHIH", 28, 1, 300, 16) + bytes([0x20, 1, 0xd, 0xb8] + [0] * 11 + [1])
        s.sendto(struct.pack("!HHHHHH", qid, 0x8180, 1, 1, 0, 0) + question + ans, addr)
def client():
    for n, (name, qtype) in enumerate([("www.example.test", 1), ("www.example.test", 28),
                                      ("ntg.example.test", 1), ("mail.example.test", 1),
                                      ("a-much-longer-name.example.test", 28)]):
        c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); c.settimeout(2)
        qname = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0"
        c.sendto(struct.pack("!HHHHHH", 0x1000 + n, 0x0100, 1, 0, 0, 0) + qname + struct.pack("!HH", qtype, 1),
                 ("127.0.0.1", 18053))
        c.recvfrom(512); c.close()
server() if sys.argv[1] == "server" else client()
PYEOF
$py "$work/dns.py" server &
pids+=($!)
sleep 1
start_capture "$work/dns_ns.pcap" lo "udp port 18053" --time-stamp-precision=nano
$py "$work/dns.py" client
stop_capture

# ---- TLS: openssl s_client with SNI against openssl s_server --------------------------------
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
	-subj /CN=demo.ntg.test -keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null
openssl s_server -accept 18443 -cert "$work/cert.pem" -key "$work/key.pem" -www -quiet >/dev/null 2>&1 &
pids+=($!)
sleep 1
start_capture "$work/tls.pcap" lo "tcp port 18443"
printf 'GET / HTTP/1.0\r\n\r\n' | openssl s_client -connect 127.0.0.1:18443 -servername demo.ntg.test -quiet >/dev/null 2>&1 || true
printf 'GET / HTTP/1.0\r\n\r\n' | openssl s_client -connect 127.0.0.1:18443 -servername api.ntg.test -tls1_2 -quiet >/dev/null 2>&1 || true
stop_capture
editcap -F pcapng "$work/tls.pcap" "$work/tls.pcapng"

# ---- PostgreSQL: psql over TCP to a throw-away server, captured on "any" (LINUX_SLL2) -----------
mkdir -p "$work/pg" "$work/pgsock"; chown postgres "$work/pg" "$work/pgsock"
runuser -u postgres -- /usr/lib/postgresql/15/bin/initdb -D "$work/pg" -A trust --no-locale -E UTF8 >/dev/null
runuser -u postgres -- /usr/lib/postgresql/15/bin/pg_ctl -D "$work/pg" -w -l "$work/pgsock/pg.log" \
	-o "-c listen_addresses=127.0.0.1 -p 18432 -k $work/pgsock -c ssl=off" start >/dev/null
start_capture "$work/postgres.pcap" any "tcp port 18432"
runuser -u postgres -- psql -X -h 127.0.0.1 -p 18432 -d postgres -Atq \
	-c "SELECT 1" -c "SELECT string_agg(i::text, ',') FROM generate_series(1, 200) i" >/dev/null
stop_capture

mergecap -F pcapng -w "$work/demo.pcapng" "$work/http.pcap" "$work/dns_ns.pcap" "$work/tls.pcapng" "$work/postgres.pcap"
cp "$work/http.pcap" "$work/dns_ns.pcap" "$work/tls.pcapng" "$work/postgres.pcap" "$work/demo.pcapng" "$here/"
ls -l "$here"/*.pcap "$here"/*.pcapng
