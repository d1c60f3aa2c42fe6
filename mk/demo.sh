#!/bin/sh
# `make demo`, the end of the README's first command: proves the main job on
# any machine, with or without internet. It serves a page on the host's
# loopback and a DNS name for it (a dnsmasq of its own, which forwards other
# names to the host's resolvers), then runs one command in a VM with
# `voidbox run`: the guest resolves the name through SLIRP's DNS (10.0.2.3),
# fetches the page through SLIRP's TCP (10.0.2.2 is the host's loopback with
# --allow-host-loopback) and, where this machine resolves $DEMO_URL's host
# itself, fetches that from the internet too. Prints what the guest saw and
# one verdict line; exits 0 only when the guest got the page byte for byte.
# $B is the build folder, $VOIDBOX_RUN_OPTS extra options for run (--vmm ...).
set -u
B=${B:-build}
V=$B/voidbox
URL=${DEMO_URL:-http://example.com/}
tmp=$(mktemp -d /tmp/voidbox-demo.XXXXXX)
pids=""
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null; done
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM
die() { echo "voidbox demo: FAILED: $*"; exit 1; }

for c in python3 dnsmasq; do
	command -v "$c" >/dev/null 2>&1 || die "$c not installed (run make deps)"
done
[ -x "$V" ] || die "$V not built (run make all)"

# The page, and a web server for it on 127.0.0.1 (the port it got is written
# to a file once it listens).
mkdir -p "$tmp/www"
echo "hello from the host, through voidbox's SLIRP ($(date -u +%FT%TZ))" >"$tmp/www/index.html"
python3 - "$tmp/www" "$tmp/http.port" <<'EOF' 2>/dev/null &
import functools, http.server, os, sys
h = functools.partial(http.server.SimpleHTTPRequestHandler, directory=sys.argv[1])
s = http.server.HTTPServer(("127.0.0.1", 0), h)
open(sys.argv[2] + ".tmp", "w").write(str(s.server_address[1]))
os.rename(sys.argv[2] + ".tmp", sys.argv[2])
s.serve_forever()
EOF
pids="$pids $!"
# A DNS server on 127.0.0.1: host.voidbox.test is the gateway (the host's
# loopback as the guest sees it); other names go to the host's resolvers.
dns_port=$(python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
dnsmasq --no-daemon --no-hosts --bind-interfaces --listen-address=127.0.0.1 --port="$dns_port" \
	--address=/host.voidbox.test/10.0.2.2 --pid-file= --user="$(id -un)" 2>"$tmp/dnsmasq.log" &
pids="$pids $!"
i=0
while [ ! -s "$tmp/http.port" ] && [ $i -lt 100 ]; do i=$((i + 1)); sleep 0.1; done
[ -s "$tmp/http.port" ] || die "the host's web server did not start"
http_port=$(cat "$tmp/http.port")
kill -0 "${pids##* }" 2>/dev/null || die "dnsmasq did not start: $(tail -n 1 "$tmp/dnsmasq.log")"

# The internet part only where this machine can resolve the name itself: a
# machine without internet gets no traffic sent off it, and says so.
inet_host=$(printf '%s' "$URL" | sed -n 's|^[a-z]*://\([^/:]*\).*|\1|p')
if [ -n "$inet_host" ] && timeout 5 getent hosts "$inet_host" >/dev/null 2>&1; then
	inet=1
else
	inet=0
fi

guest=$(cat <<EOF
echo "eth0:     \$(ip -4 addr show eth0 | grep -o 'inet [0-9./]*') \$(ip link show eth0 | grep -o '<[^>]*>')"
addr=\$(nslookup host.voidbox.test 2>/dev/null | sed -n '/^Name:/,\$ s/^Address[^:]*: *//p' | head -n 1)
echo "DNS:      host.voidbox.test is \${addr:-not found}"
page=\$(timeout 30 wget -q -O - "http://host.voidbox.test:$http_port/" 2>&1)
echo "HTTP:     \$page"
if [ $inet = 1 ]; then
	head=\$(timeout 30 wget -q -O - "$URL" 2>&1 | head -c 60 | tr -d '\r\n')
	echo "internet: $URL: \${head:-no answer}"
else
	echo "internet: skipped ($inet_host does not resolve on this machine: no internet here)"
fi
EOF
)
echo "\$ $V run --allow-host-loopback --dns 127.0.0.1:$dns_port ${VOIDBOX_RUN_OPTS:-}-- sh -c '...'"
# shellcheck disable=SC2086
"$V" run --allow-host-loopback --dns "127.0.0.1:$dns_port" ${VOIDBOX_RUN_OPTS:-} -- sh -c "$guest" \
	>"$tmp/out" 2>"$tmp/err" </dev/null
rc=$?
cat "$tmp/out"
[ $rc -eq 0 ] || die "voidbox run exited $rc: $(tail -n 3 "$tmp/err" | tr '\n' ' ')"
grep -q '^DNS:      host.voidbox.test is 10.0.2.2$' "$tmp/out" ||
	die "the guest could not resolve host.voidbox.test through SLIRP's DNS"
grep -qxF "HTTP:     $(cat "$tmp/www/index.html")" "$tmp/out" ||
	die "the guest did not get the host's page through SLIRP"
grep -q '^eth0: .*<BROADCAST,MULTICAST,UP,LOWER_UP>$' "$tmp/out" ||
	die "eth0 was not up with carrier when the command started"
echo "voidbox demo: OK: a VM resolved a name through SLIRP's DNS and fetched a page from the host through SLIRP"
