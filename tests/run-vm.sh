#!/bin/sh
# `voidbox run` end to end with $VMM (qemu: Debian's kernel under TCG, the
# devices served over vhost-user; kvm: the same script inside the nested
# test bed, tests/nested/), the default image, the agent serving on vsock.
# Five boots serve every check: (A) a long-running command while other
# commands reach the same guest through the control socket (exit codes,
# user, /workspace, --cpus, --env, a pty with Ctrl-C, raw CONNECT clients:
# a malformed frame, a half-close); (B) 32 MiB stdin into sha256sum, 64 MiB stdout, 64 MiB stderr;
# (C) --timeout with --console; (D) qemu killed under run (exit 125, nothing
# left: folder, processes); (E) a guest that
# panics (the kept console is shown). Plus bad inputs.
. tests/lib.sh
need_guest run-vm || exit 0
need_cmd run-vm qemu-system-x86_64 || exit 0
V=$VOIDBOX
T=${VOIDBOX_VM_TIMEOUT:-120}
export XDG_CACHE_HOME=$TMP/cache

# --- bad inputs (no boot) ---
bad() { # name args...: exit 125 with one line on stderr, nothing on stdout
	_n=$1; shift
	timeout 60 "$V" run --vmm "$VMM" "$@" >"$TMP/bo" 2>"$TMP/be"; _r=$?
	if [ $_r = 125 ] && [ "$(wc -l <"$TMP/be")" = 1 ] && [ ! -s "$TMP/bo" ]; then pass "run-vm-bad-$_n"
	else fail "run-vm-bad-$_n" "rc $_r: $(head -c 300 "$TMP/be")"; fi
}
bad not-bzimage --kernel /etc/passwd -- true
bad no-kernel-file --kernel "$TMP/nonexistent" -- true
head -c 300000000 /dev/zero >"$TMP/huge.img"
bad initrd-too-big --memory 128M --initrd "$TMP/huge.img" -- true
rm -f "$TMP/huge.img"
mkdir -p "$TMP/lonely"
cp "$V" "$TMP/lonely/voidbox"
VOIDBOX_KERNEL=$TMP/nope timeout 30 "$TMP/lonely/voidbox" run --vmm "$VMM" -- true >/dev/null 2>"$TMP/be"; rc=$?
if [ -e "/boot/vmlinuz-$(uname -r)" ]; then
	skip run-vm-kernel-lookup "/boot/vmlinuz-$(uname -r) exists here"
elif [ $rc = 125 ] && grep -q "$TMP/nope" "$TMP/be" && grep -q "$TMP/lonely/guest/vmlinuz" "$TMP/be" &&
	grep -q "/boot/vmlinuz-" "$TMP/be"; then pass run-vm-kernel-lookup
else fail run-vm-kernel-lookup "rc $rc: $(cat "$TMP/be")"; fi
VOIDBOX_QEMU=/nonexistent/qemu timeout 30 "$V" run --vmm qemu -- true >/dev/null 2>"$TMP/be"; rc=$?
[ $rc = 125 ] && grep -q "not found" "$TMP/be" && pass run-vm-no-qemu || fail run-vm-no-qemu "rc $rc: $(cat "$TMP/be")"

# --- boot A ---
C=$TMP/vb-run-ctl.sock
timeout $T "$V" run --vmm "$VMM" --control "$C" --cpus 2 -e FOO=bar -- sh -c \
	'echo "main $FOO $(nproc) tsc=$(grep -c tsc=reliable /proc/cmdline)"; while [ ! -e /tmp/stop ]; do sleep 0.1; done; echo main-done; exit 42' \
	>"$TMP/a.out" 2>"$TMP/a.err" &
AP=$!
for _ in $(seq $((T * 10))); do grep -q '^main' "$TMP/a.out" 2>/dev/null && break; kill -0 $AP 2>/dev/null || break; sleep 0.1; done
if ! grep -q '^main' "$TMP/a.out"; then
	fail run-vm-boot "no output from the guest: $(tail -n 5 "$TMP/a.err" | tr '\n' '|')"
	kill $AP 2>/dev/null; wait $AP; exit 0
fi
pass run-vm-boot
[ "$(head -n 1 "$TMP/a.out" | cut -d' ' -f1-3)" = "main bar 2" ] && pass run-vm-env-cpus || fail run-vm-env-cpus "got '$(head -n 1 "$TMP/a.out")'"
# under TCG the guest keeps the TSC clocksource only with tsc=reliable
if [ "$VMM" != qemu ]; then
	skip run-vm-tcg-tsc-reliable "a qemu TCG check; this run boots with $VMM"
elif grep -qE '^flags.* (vmx|svm)( |$)' /proc/cpuinfo; then
	skip run-vm-tcg-tsc-reliable "the CPU has vmx/svm: qemu runs with KVM here"
else
	head -n 1 "$TMP/a.out" | grep -q " tsc=1$" && pass run-vm-tcg-tsc-reliable ||
		fail run-vm-tcg-tsc-reliable "tsc=reliable not on the guest's command line"
fi
X() { timeout 60 "$V" run --attach "vsock:$C" "$@"; }
X -- true; a=$?; X -- false; b=$?; X -- sh -c 'exit 42'; c=$?; X -- sh -c 'kill -9 $$'; d=$?
X -- no-such-command 2>"$TMP/e"; e=$?
[ "$a$b$c$d$e" = "0142137127" ] && pass run-vm-exit-codes || fail run-vm-exit-codes "true/false/42/kill-9/missing gave $a/$b/$c/$d/$e"
grep -q "no-such-command" "$TMP/e" && pass run-vm-missing-message || fail run-vm-missing-message "$(cat "$TMP/e")"
out=$(X -- sh -c 'echo "$(id -u) $(stat -c %u /workspace) $(pwd) $HOME"')
[ "$out" = "1000 1000 /workspace /workspace" ] && pass run-vm-user-workspace || fail run-vm-user-workspace "got '$out'"
out=$(X -u root -w /tmp/wd -e A=1 -- sh -c 'echo "$(id -u) $(pwd) $A"')
[ "$out" = "0 /tmp/wd 1" ] && pass run-vm-root-workdir-env || fail run-vm-root-workdir-env "got '$out'"
out=$(X -- sh -c 'echo out; echo err >&2' 2>"$TMP/e")
[ "$out" = out ] && [ "$(cat "$TMP/e")" = err ] && pass run-vm-separate-streams || fail run-vm-separate-streams "out '$out' err '$(cat "$TMP/e")'"
# a raw CONNECT client (socat) talks the protocol's first bytes: the agent
# answers a bad frame with ERROR, and the VM keeps serving
python3 - "$C" >"$TMP/raw" 2>&1 <<'PY'
import socket, sys, time
s = socket.socket(socket.AF_UNIX); s.settimeout(20); s.connect(sys.argv[1])
s.sendall(b'CONNECT 1024\n\xff\xff\xff\xff\x01\x00\x00\x00')
got = b''
while b'frame too large' not in got:
    d = s.recv(4096)
    if not d: break
    got += d
print(got.decode(errors='replace'))
PY
grep -q '^OK ' "$TMP/raw" && grep -q 'frame too large' "$TMP/raw" && pass run-vm-second-client-raw ||
	fail run-vm-second-client-raw "$(head -c 200 "$TMP/raw" | tr -c '[:print:]' .)"
if command -v python3 >/dev/null; then
	python3 tests/run_pty.py "$V" run --attach "vsock:$C" -it -- sh -c 'stty size; tty; echo READY; sleep 100' >"$TMP/p" 2>&1
	grep -q '^33 101$' "$TMP/p" && grep -q '^/dev/pts/' "$TMP/p" && grep -q '^EXIT 130$' "$TMP/p" &&
		grep -q RESTORED "$TMP/p" && pass run-vm-pty-ctrl-c || fail run-vm-pty-ctrl-c "$(tr '\n' ' ' <"$TMP/p" | head -c 300)"
else
	skip run-vm-pty-ctrl-c "python3 not installed"
fi
out=$(python3 tests/run_halfclose.py "$C" vsock 2>&1)
[ "$out" = HALFCLOSE-OK ] && pass run-vm-half-close || fail run-vm-half-close "$out"
X -- touch /tmp/stop
wait $AP; rc=$?
[ $rc = 42 ] && grep -q main-done "$TMP/a.out" && pass run-vm-main-exit-42 || fail run-vm-main-exit-42 "rc $rc: $(tail -n 3 "$TMP/a.err" | tr '\n' '|')"
[ ! -e "$C" ] && pass run-vm-control-removed || fail run-vm-control-removed "$C left behind"

# --- boot B: 32 MiB in, 64 MiB out (the input twice), 64 MiB err ---
head -c 33554432 /dev/urandom >"$TMP/in.bin"
cat "$TMP/in.bin" "$TMP/in.bin" >"$TMP/out.want"
yes abcdefghi | head -c 67108864 >"$TMP/err.want"
want=$(sha256sum <"$TMP/in.bin" | cut -d' ' -f1)
timeout $T "$V" run --vmm "$VMM" -- sh -c 'cat >/tmp/in; sha256sum </tmp/in >&2; cat /tmp/in /tmp/in; yes abcdefghi | head -c 67108864 >&2' \
	<"$TMP/in.bin" >"$TMP/b.out" 2>"$TMP/b.err"; rc=$?
head -n 1 "$TMP/b.err" | cut -d' ' -f1 >"$TMP/b.sha"
tail -c +$(( $(head -n 1 "$TMP/b.err" | wc -c) + 1 )) "$TMP/b.err" >"$TMP/b.rest"
[ $rc = 0 ] && [ "$(cat "$TMP/b.sha")" = "$want" ] && pass run-vm-stdin-32M-sha256 || fail run-vm-stdin-32M-sha256 "rc $rc, guest sha '$(cat "$TMP/b.sha")'"
cmp -s "$TMP/b.out" "$TMP/out.want" && pass run-vm-stdout-64M || fail run-vm-stdout-64M "stdout differs ($(wc -c <"$TMP/b.out") bytes)"
cmp -s "$TMP/b.rest" "$TMP/err.want" && pass run-vm-stderr-64M || fail run-vm-stderr-64M "stderr differs ($(wc -c <"$TMP/b.rest") bytes)"
rm -f "$TMP/in.bin" "$TMP/b.out" "$TMP/out.want" "$TMP/err.want" "$TMP/b.err" "$TMP/b.rest"

# --- boot C: --timeout, --console ---
RUNDIRS=$(ls -d /tmp/vb-run-* 2>/dev/null | wc -l)
s=$(date +%s)
MARK=vb-run-test-$$
timeout $T "$V" run --vmm "$VMM" --console --timeout 2 --append "$MARK" -- sh -c 'echo started; sleep 100' >"$TMP/c.out" 2>"$TMP/c.err"; rc=$?
el=$(( $(date +%s) - s ))
[ $rc = 124 ] && grep -q started "$TMP/c.out" && grep -q "timed out" "$TMP/c.err" && pass run-vm-timeout-124 ||
	fail run-vm-timeout-124 "rc $rc after $el s: $(tail -n 2 "$TMP/c.err" | tr '\n' '|')"
grep -q "voidbox-agent: listening on vsock port 1024" "$TMP/c.err" &&
	pass run-vm-console || fail run-vm-console "no agent line on the console"
if pgrep -f "$MARK" >/dev/null; then fail run-vm-no-leftover "a qemu survived"
elif [ "$(ls -d /tmp/vb-run-* 2>/dev/null | wc -l)" -gt "$RUNDIRS" ]; then fail run-vm-no-leftover "a run folder survived"
else pass run-vm-no-leftover; fi

# --- boot D: qemu dies under run ---
if [ "$VMM" != qemu ]; then
	skip run-vm-qemu-death "qemu only: the KVM monitor runs in voidbox's own process (its ends: tests/kvm-run.sh)"
	skip run-vm-qemu-death-clean "qemu only (see run-vm-qemu-death)"
else
timeout $T "$V" run --vmm "$VMM" -- sh -c 'echo up; sleep 100' >"$TMP/d.out" 2>"$TMP/d.err" &
DP=$!
for _ in $(seq $((T * 10))); do grep -q up "$TMP/d.out" 2>/dev/null && break; kill -0 $DP 2>/dev/null || break; sleep 0.1; done
RUNPID=$(pgrep -P $DP -x voidbox)
QP=$(pgrep -P "$RUNPID" -f qemu-system)
if [ -n "$QP" ]; then
	DDIR=$(dirname "$(readlink "/proc/$QP/fd/2")") # qemu's log is in run's private folder
	kill -9 "$QP"
	wait $DP; rc=$?
	[ $rc = 125 ] && grep -q "qemu killed by signal 9" "$TMP/d.err" && pass run-vm-qemu-death ||
		fail run-vm-qemu-death "rc $rc: $(tail -n 3 "$TMP/d.err" | tr '\n' '|')"
	# nothing left: run's folder (sockets, log), run itself, qemu (reaped)
	left=""
	case "$DDIR" in /tmp/vb-run-*) [ -e "$DDIR" ] && left="$left folder $DDIR" ;; *) left="$left (no run folder found: '$DDIR')" ;; esac
	[ -e "/proc/$RUNPID" ] && left="$left voidbox $RUNPID"
	[ -e "/proc/$QP" ] && left="$left qemu $QP"
	[ -z "$left" ] && pass run-vm-qemu-death-clean || fail run-vm-qemu-death-clean "left:$left"
else
	kill $DP; wait $DP
	fail run-vm-qemu-death "no qemu found under run"
fi
fi

# --- boot E: the guest never comes up (no init): one line saying so, then
# the console kept in the ring buffer (the kernel's panic), exit 125 ---
timeout $T "$V" run --vmm "$VMM" --net none --append rdinit=/nonexistent -- true >"$TMP/e.out" 2>"$TMP/e.err"; rc=$?
[ $rc = 125 ] && head -n 1 "$TMP/e.err" | grep -q "powered off before" && grep -q "Kernel panic" "$TMP/e.err" &&
	pass run-vm-boot-failure-console || fail run-vm-boot-failure-console "rc $rc: $(head -n 2 "$TMP/e.err" | tr '\n' '|')"
