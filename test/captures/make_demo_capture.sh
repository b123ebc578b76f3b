#!/usr/bin/env bash
# test/captures/make_demo_capture.sh — record demo_services.pcapng, the capture the quick start
# imports: a few hundred real sessions of four services on loopback, enough rows per class to train
# a generator and a classifier.  Varied on purpose (object sizes, names, queries, keep-alive), with
# a fixed RANDOM seed so reruns are alike.  Packets are cut at 128 bytes (tcpdump -s): ntg takes
# payload lengths from the headers, so the file stays small and the lengths stay true.
#   http      curl -> python3 http.server, 1-3 objects per connection, sizes 50 B .. 27 kB (below smallint on loopback segments)
#   dns       a small UDP DNS server, A/AAAA/TXT queries of random names, answers of varied length
#   tls       openssl s_client (random SNI, TLS 1.2 / 1.3) -> openssl s_server -www
#   postgres  psql sessions running different queries against a throw-away server
# Needs root, tcpdump, curl, openssl, mergecap (wireshark-common), postgresql-15.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
py=/usr/bin/python3
RANDOM=20261123
SESSIONS=${SESSIONS:-120}
work=$(mktemp -d /tmp/ntg-demo-capture.XXXXXX)
chmod 755 "$work"
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	[ -n "${cap_pid:-}" ] && kill -INT "$cap_pid" 2>/dev/null || true
	if [ -d "$work/pg" ]; then
		runuser -u postgres -- /usr/lib/postgresql/15/bin/pg_ctl -D "$work/pg" -m fast stop >/dev/null 2>&1 || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT

# ---- servers --------------------------------------------------------------------------------
mkdir -p "$work/www"
for i in $(seq 1 40); do
	head -c $(( (RANDOM % 20000) + 50 )) /dev/urandom | base64 -w 0 >"$work/www/obj$i.txt"
done
$py -m http.server 28080 --bind 127.0.0.1 --directory "$work/www" >/dev/null 2>&1 &
pids+=($!)

cat >"$work/dns.py" <<'PYEOF'
import random, socket, struct, sys
def server():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 28053))
    while True:
        q, addr = s.recvfrom(512)
        i = 12
        while q[i]: i += q[i] + 1
        qtype = struct.unpack("!H", q[i + 1:i + 3])[0]
        question, n = q[12:i + 5], 1 + len(q) % 3
        if qtype == 1:
            rr = b"".join(b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 300, 4) + bytes([192, 0, 2, k]) for k in range(n))
        elif qtype == 28:
            rr = b"".join(b"\xc0\x0c" + struct.pack("!HHIH", 28, 1, 300, 16) + bytes([0x20, 1, 0xd, 0xb8] + [0] * 11 + [k]) for k in range(n))
        else:
            txt = b"v=ntg1 " + b"x" * (len(q) * 2 % 200)
            rr = b"\xc0\x0c" + struct.pack("!HHIH", 16, 1, 300, len(txt) + 1) + bytes([len(txt)]) + txt
        s.sendto(struct.pack("!HHHHHH", struct.unpack("!H", q[:2])[0], 0x8180, 1, n if qtype != 16 else 1, 0, 0) + question + rr, addr)
def client(count):
    random.seed(11)
    words = ["www", "mail", "api", "cdn", "static", "auth", "login", "a-much-longer-label", "x", "eu-west-1"]
    for n in range(count):
        name = ".".join(random.choice(words) for _ in range(random.randint(1, 3))) + ".example.test"
        qtype = random.choice([1, 1, 28, 16])
        c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); c.settimeout(2)
        qname = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0"
        for _ in range(random.choice([1, 1, 1, 2])):   # some clients ask twice on one socket
            c.sendto(struct.pack("!HHHHHH", random.getrandbits(16), 0x0100, 1, 0, 0, 0) + qname + struct.pack("!HH", qtype, 1),
                     ("127.0.0.1", 28053))
            c.recvfrom(512)
        c.close()
server() if sys.argv[1] == "server" else client(int(sys.argv[2]))
PYEOF
$py "$work/dns.py" server &
pids+=($!)

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
	-subj /CN=demo.ntg.test -keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null
openssl s_server -accept 28443 -cert "$work/cert.pem" -key "$work/key.pem" -www -quiet >/dev/null 2>&1 &
pids+=($!)

mkdir -p "$work/pg" "$work/pgsock"; chown postgres "$work/pg" "$work/pgsock"
runuser -u postgres -- /usr/lib/postgresql/15/bin/initdb -D "$work/pg" -A trust --no-locale -E UTF8 >/dev/null
runuser -u postgres -- /usr/lib/postgresql/15/bin/pg_ctl -D "$work/pg" -w -l "$work/pgsock/pg.log" \
	-o "-c listen_addresses=127.0.0.1 -p 28432 -k $work/pgsock -c ssl=off" start >/dev/null
sleep 1

# ---- record ---------------------------------------------------------------------------------
tcpdump -i lo -U -s 128 -w "$work/demo_services.pcap" \
	"tcp port 28080 or udp port 28053 or tcp port 28443 or tcp port 28432" 2>"$work/tcpdump.log" &
cap_pid=$!
sleep 1.5

for i in $(seq 1 "$SESSIONS"); do
	urls=()
	for _ in $(seq 1 $(( (RANDOM % 3) + 1 ))); do urls+=("http://127.0.0.1:28080/obj$(( (RANDOM % 40) + 1 )).txt"); done
	if [ $((RANDOM % 5)) -eq 0 ]; then
		curl -s -o /dev/null -X POST -d "q=$(head -c $((RANDOM % 900 + 10)) /dev/zero | tr '\0' a)" "${urls[0]}"
	else
		curl -s -o /dev/null -o /dev/null -o /dev/null "${urls[@]}"
	fi
done
$py "$work/dns.py" client "$SESSIONS"
for i in $(seq 1 $((SESSIONS / 2))); do
	sni=$(printf '%s.ntg.test' "$(head -c $((RANDOM % 12 + 3)) /dev/urandom | od -An -tx1 | tr -d ' \n')")
	ver=$([ $((RANDOM % 2)) -eq 0 ] && echo -tls1_2 || echo -tls1_3)
	printf 'GET /%s HTTP/1.0\r\n\r\n' "$(head -c $((RANDOM % 300)) /dev/zero | tr '\0' p)" |
		timeout 5 openssl s_client -connect 127.0.0.1:28443 -servername "$sni" $ver -quiet >/dev/null 2>&1 || true
done
queries=("SELECT 1" "SELECT now()" "SELECT relname FROM pg_class LIMIT 20"
	"SELECT string_agg(i::text, ',') FROM generate_series(1, 500) i" "SELECT * FROM pg_settings LIMIT 5"
	"SELECT count(*) FROM pg_attribute" "SELECT version()")
for i in $(seq 1 $((SESSIONS / 2))); do
	args=()
	for _ in $(seq 1 $(( (RANDOM % 3) + 1 ))); do args+=(-c "${queries[$((RANDOM % ${#queries[@]}))]}"); done
	runuser -u postgres -- psql -X -h 127.0.0.1 -p 28432 -d postgres -Atq "${args[@]}" >/dev/null
done

sleep 0.5
kill -INT "$cap_pid"; wait "$cap_pid" || true; cap_pid=
mergecap -F pcapng -w "$here/demo_services.pcapng" "$work/demo_services.pcap"
ls -l "$here/demo_services.pcapng"
