#!/bin/sh
# A hostile guest against a real `voidbox run --vmm qemu` (issue 13), in one
# TCG boot under `ulimit -n 512`. The guest, as root:
#   - writes terminal escape sequences to its console (an OSC title, a
#     screen clear, a colour, an 8-bit CSI, a BEL) while run shows it with
#     --console;
#   - sends one UDP datagram to each of 3,000 ports of the host;
#   - then downloads a file over TCP from the host;
#   - and waits while the host checks, through the control socket, that
#     a new --control client still gets in.
# Checked: the download is byte-exact and the control client works after
# the flood (finding 1); run's loop is idle within a second of it; the
# budget said so once on stderr and --net-stats counts the recycled flows;
# no raw ESC/BEL/CSI byte reached run's stderr, the escaped forms did, and
# an agent error naming a command with escapes in it is escaped too
# (finding 4); every thread of run has a seccomp filter and no new
# privileges, qemu runs with -sandbox on and a filter of its own, no core
# files (finding 9). Findings 2, 3, 5-8 are tested below the VM (unit
# tests: test_slirp, test_vhost, test_image, test_base).
. tests/lib.sh
T=hostile
need_guest $T || exit 0
for c in qemu-system-x86_64 python3 sha256sum; do need_cmd $T "$c" || exit 0; done
[ -x "$TOOLS/vnet-raw" ] || { skip $T "$TOOLS/vnet-raw not built"; exit 0; }
export XDG_CACHE_HOME=$TMP/cache
PIDS=""
cleanup() {
	for p in $PIDS; do kill "$p" 2>/dev/null; done
	rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

IMG=$TMP/img.gz
if ! out=$("$VOIDBOX" mkinitramfs -k "$GUEST_DIR/vmlinuz" -B "$GUEST_DIR/busybox" \
	-a "$TOOLS/vnet-raw:/bin/vnet-raw:0755" -o "$IMG" 2>&1); then
	fail hostile_image "$out"; exit 0
fi
mkdir -p "$TMP/www"
head -c 2097152 /dev/urandom >"$TMP/www/blob"
WANT=$(sha256sum <"$TMP/www/blob" | cut -d' ' -f1)
HTTP=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
(cd "$TMP/www" && exec python3 -m http.server --bind 127.0.0.1 "$HTTP") >/dev/null 2>&1 &
PIDS="$PIDS $!"
C=$TMP/ctl.sock

cat >"$TMP/guest.sh" <<EOF
printf 'ESC-TEST \033]0;vb-pwned\007\033[2J\033[31mred\233m end\n' >/dev/console
vnet-raw udpflood 10.0.2.2 20000 3000
echo FLOOD_DONE
if wget -q -O /tmp/blob http://10.0.2.2:$HTTP/blob; then
	echo "SHA \$(sha256sum </tmp/blob | cut -d' ' -f1)"
else
	echo "SHA wget-failed"
fi
i=0
while [ ! -e /tmp/stop ] && [ \$i -lt 600 ]; do sleep 0.1; i=\$((i + 1)); done
echo GUEST_DONE
EOF
(
	ulimit -n 512
	exec timeout 200 "$VOIDBOX" run --vmm qemu --kernel "$GUEST_DIR/vmlinuz" --initrd "$IMG" --user root --console --control "$C" \
		--allow-host-loopback --net-stats -- sh -c "$(cat "$TMP/guest.sh")"
) >"$TMP/out" 2>"$TMP/err" </dev/null &
RP=$!
PIDS="$PIDS $RP"
for _ in $(seq 1500); do grep -q '^SHA' "$TMP/out" 2>/dev/null && break; kill -0 $RP 2>/dev/null || break; sleep 0.1; done
if ! grep -q '^SHA' "$TMP/out"; then
	fail hostile_boot "no guest: out '$(tr '\n' '|' <"$TMP/out")' err '$(tail -n 3 "$TMP/err" | tr '\n' '|' | tr -d '\033')'"
	kill $RP 2>/dev/null; wait $RP 2>/dev/null; exit 0
fi
[ "$(sed -n 's/^SHA //p' "$TMP/out")" = "$WANT" ] && pass hostile_tcp_after_udp_flood ||
	fail hostile_tcp_after_udp_flood "the download: $(sed -n 's/^SHA //p' "$TMP/out")"

# run's own process (timeout's child) and qemu
VB=$(pgrep -P $RP -x voidbox | head -n 1)
Q=$(pgrep -P "${VB:-0}" qemu-system-x86 | head -n 1)
[ -n "$VB" ] && [ -n "$Q" ] || { fail hostile_processes "voidbox '$VB' qemu '$Q' not found"; kill $RP; exit 0; }

# the loop is idle within a second of the flood: CPU time over the next second
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
sleep 1
t0=$(ticks "$VB"); sleep 1; t1=$(ticks "$VB")
hz=$(getconf CLK_TCK)
[ $((t1 - t0)) -lt $((hz / 5)) ] && pass hostile_loop_idle ||
	fail hostile_loop_idle "run used $((t1 - t0)) of $hz ticks in a second after the flood"

# hardening: every thread filtered, no new privileges; qemu sandboxed
bad=""
for t in /proc/$VB/task/*; do
	grep -q '^Seccomp:[[:space:]]*2' "$t/status" && grep -q '^NoNewPrivs:[[:space:]]*1' "$t/status" ||
		bad="$bad ${t##*/}"
done
nthreads=$(ls /proc/$VB/task | wc -l)
[ -z "$bad" ] && [ "$nthreads" -ge 2 ] && pass hostile_seccomp_threads ||
	fail hostile_seccomp_threads "threads without a filter or NoNewPrivs:$bad (of $nthreads)"
grep -q '^Max core file size *0 *0' "/proc/$VB/limits" && pass hostile_no_core ||
	fail hostile_no_core "$(grep 'core file' "/proc/$VB/limits")"
tr '\0' ' ' <"/proc/$Q/cmdline" | grep -q -- '-sandbox on,' && grep -q '^Seccomp:[[:space:]]*2' "/proc/$Q/status" &&
	pass hostile_qemu_sandbox || fail hostile_qemu_sandbox "qemu without -sandbox on or its filter"

# a new control client after the flood; an agent error with escapes in it
out=$(timeout 30 "$VOIDBOX" run --attach "vsock:$C" -- echo control-ok 2>&1)
[ "$out" = control-ok ] && pass hostile_control_after_flood || fail hostile_control_after_flood "got '$out'"
timeout 30 "$VOIDBOX" run --attach "vsock:$C" -- "$(printf 'no\033]0;x\007such\233m')" >"$TMP/aout" 2>"$TMP/aerr"
rc=$?
if [ $rc = 127 ] && grep -q 'no\\x1b\]0;x\\x07such\\x9bm' "$TMP/aerr" && ! LC_ALL=C grep -q "$(printf '[\033\007\233]')" "$TMP/aerr"; then
	pass hostile_agent_error_escaped
else
	fail hostile_agent_error_escaped "rc $rc: $(od -c "$TMP/aerr" | head -n 3 | tr -s ' ' | tr '\n' '|')"
fi
timeout 30 "$VOIDBOX" run --attach "vsock:$C" -- touch /tmp/stop >/dev/null 2>&1
wait $RP; rc=$?
[ $rc = 0 ] && grep -q GUEST_DONE "$TMP/out" && pass hostile_run_exit ||
	fail hostile_run_exit "rc $rc: $(tail -n 2 "$TMP/err" | tr '\n' '|' | tr -d '\033')"

# the console: escaped, never raw
if LC_ALL=C grep -q "$(printf '[\033\007\233]')" "$TMP/err"; then
	fail hostile_console_escaped "raw control bytes on run's stderr: $(LC_ALL=C grep -a -m1 ESC-TEST "$TMP/err" | od -c | head -n 2 | tr -s ' ' | tr '\n' '|')"
elif grep -q 'ESC-TEST \\x1b\]0;vb-pwned\\x07\\x1b\[2J\\x1b\[31mred\\x9bm end' "$TMP/err"; then
	pass hostile_console_escaped
else
	fail hostile_console_escaped "the guest's line is not on stderr escaped: $(grep -a ESC-TEST "$TMP/err" | head -c 200)"
fi

# the budget: one line the first time, the recycled flows counted, no EMFILE
n=$(grep -c "reached its udp budget" "$TMP/err")
ev=$(sed -n 's/^net budget_udp_evicted //p' "$TMP/err")
se=$(sed -n 's/^net slirp_drop_socket_error //p' "$TMP/err")
[ "$n" = 1 ] && [ "${ev:-0}" -gt 0 ] && [ "${se:-1}" = 0 ] && pass hostile_budget_counted ||
	fail hostile_budget_counted "budget lines $n, evicted '$ev', socket errors '$se'"
if grep -q "voidbox: seccomp:" "$TMP/err" "$TMP/aerr"; then
	fail hostile_seccomp_clean "$(grep -h "voidbox: seccomp:" "$TMP/err" "$TMP/aerr" | head -n 1)"
else
	pass hostile_seccomp_clean
fi
