#!/bin/sh
# `voidbox run --attach` against the agent's command server listening on a
# Unix socket on the host (`voidbox agent --listen`): the protocol, exec,
# streams, users and the pty path in milliseconds, no VM. run-vm.sh proves
# the same through a real guest.
. tests/lib.sh
if [ "$(id -u)" != 0 ]; then skip run-agent "needs root (the agent switches users)"; exit 0; fi

SOCK=$TMP/vb-run-agent.sock
W=$TMP/work
mkdir -p "$W"
chmod 777 "$TMP" "$W"
"$VOIDBOX" agent --listen "unix:$SOCK" 2>"$TMP/agent.err" &
APID=$!
trap 'kill $APID 2>/dev/null; rm -rf "$TMP"' EXIT
for _ in $(seq 100); do [ -S "$SOCK" ] && break; sleep 0.05; done
[ -S "$SOCK" ] || { fail run-agent-listen "socket never appeared: $(cat "$TMP/agent.err")"; exit 0; }
R() { timeout 60 "$VOIDBOX" run --attach "unix:$SOCK" -w "$W" "$@"; }

# exit codes
R -- true; a=$?; R -- false; b=$?; R -- sh -c 'exit 42'; c=$?
R -- sh -c 'kill -9 $$'; d=$?; R -- /nonexistent/cmd 2>"$TMP/e"; e=$?
R -- "$W" 2>/dev/null; f=$?
[ "$a$b$c$d$e$f" = "0142137127126" ] && pass run-agent-exit-codes ||
	fail run-agent-exit-codes "true/false/42/kill-9/missing/dir gave $a/$b/$c/$d/$e/$f"
grep -q "/nonexistent/cmd: No such file" "$TMP/e" && pass run-agent-missing-message ||
	fail run-agent-missing-message "$(cat "$TMP/e")"

# 32 MiB stdout + 8 MiB stderr, byte-exact and not interleaved
head -c 33554432 /dev/urandom >"$TMP/out.bin"
head -c 8388608 /dev/urandom >"$TMP/err.bin"
chmod 644 "$TMP"/*.bin
R -- sh -c "cat $TMP/out.bin; cat $TMP/err.bin >&2" >"$TMP/o" 2>"$TMP/e"; rc=$?
if [ $rc = 0 ] && cmp -s "$TMP/o" "$TMP/out.bin" && cmp -s "$TMP/e" "$TMP/err.bin"; then
	pass run-agent-streams-32M-8M
else
	fail run-agent-streams-32M-8M "rc $rc, stdout $(wc -c <"$TMP/o") bytes, stderr $(wc -c <"$TMP/e") bytes"
fi
# 32 MiB stdin into sha256sum, from a pipe and from a file
want=$(sha256sum <"$TMP/out.bin" | cut -d' ' -f1)
got1=$(cat "$TMP/out.bin" | R -- sha256sum | cut -d' ' -f1)
got2=$(R -- sha256sum <"$TMP/out.bin" | cut -d' ' -f1)
[ "$got1" = "$want" ] && [ "$got2" = "$want" ] && pass run-agent-stdin-32M ||
	fail run-agent-stdin-32M "want $want, pipe $got1, file $got2"
# big in, big out at once (back-pressure both ways, no deadlock)
got=$(R -- cat <"$TMP/out.bin" | sha256sum | cut -d' ' -f1)
[ "$got" = "$want" ] && pass run-agent-cat-32M || fail run-agent-cat-32M "got $got"
got=$(R -- wc -c </dev/null)
[ "$got" = 0 ] && pass run-agent-stdin-devnull || fail run-agent-stdin-devnull "got '$got'"

# a reader that goes away: the command gets SIGPIPE, as it would locally
out=$(R -- yes | head -n 2 | tr '\n' ' ')
[ "$out" = "y y " ] && pass run-agent-sigpipe || fail run-agent-sigpipe "got '$out'"

# a background job left holding stdout ends with the command
s=$(date +%s)
out=$(R -- sh -c 'sleep 1000 & echo bg')
[ "$out" = bg ] && [ $(( $(date +%s) - s )) -lt 30 ] && pass run-agent-leftover-job ||
	fail run-agent-leftover-job "got '$out' after $(( $(date +%s) - s )) s"

# env, workdir (created for the user), user
out=$(R -e FOO=bar -e 'SP=a b' -w "$W/new/dir" -- sh -c 'echo "$FOO|$SP|$(pwd)|$(id -u):$(id -g)|$HOME"')
[ "$out" = "bar|a b|$W/new/dir|1000:1000|/workspace" ] && pass run-agent-env-workdir-user ||
	fail run-agent-env-workdir-user "got '$out'"
[ "$(stat -c %u "$W/new/dir")" = 1000 ] && pass run-agent-workdir-owner ||
	fail run-agent-workdir-owner "owner $(stat -c %u "$W/new/dir")"
out=$(R -u root -- id -u)$(R -u 123:456 -- sh -c 'echo ":$(id -u):$(id -g):$(id -G)"')
[ "$out" = "0:123:456:456" ] && pass run-agent-user-forms || fail run-agent-user-forms "got '$out'"

# bad inputs: one line, exit 125 (2 for usage)
bad() { # name expected-rc args...
	_n=$1 _w=$2; shift 2
	"$VOIDBOX" run "$@" >"$TMP/bo" 2>"$TMP/be"; _r=$?
	if [ $_r = "$_w" ] && [ "$(wc -l <"$TMP/be")" = 1 ] && [ ! -s "$TMP/bo" ]; then pass "run-bad-$_n"
	else fail "run-bad-$_n" "rc $_r (want $_w): $(head -c 200 "$TMP/be")"; fi
}
bad user 125 --user nobody -- true
bad memory 125 --memory 12X -- true
bad cpus 125 --cpus 0 -- true
bad env 125 --env NOEQUALS -- true
bad workdir 125 --workdir rel -- true
bad vmm 125 --vmm xen -- true
bad option 2 --frobnicate -- true
bad nocmd 2 --cpus 1
bad attach 125 --attach unix:$TMP/nonexistent.sock -- true
# options that shape a new VM are refused with --attach, not ignored
bad attach-vm-opt 125 --attach "unix:$SOCK" --cpus 2 -- true
grep -q -- "--cpus: only for a new VM" "$TMP/be" && pass run-attach-names-vm-opt ||
	fail run-attach-names-vm-opt "$(cat "$TMP/be")"
bad attach-net-opt 125 --attach "unix:$SOCK" --deny-net 203.0.113.0/24 -- true
"$VOIDBOX" run --help | grep -q '^usage: voidbox run' && pass run-help || fail run-help "no usage"

# a second client while a command runs
( R -- sh -c 'sleep 2; echo first' >"$TMP/first" ) &
P1=$!
out=$(R -- echo second)
wait $P1
[ "$out" = second ] && [ "$(cat "$TMP/first")" = first ] && pass run-agent-concurrent ||
	fail run-agent-concurrent "got '$out' / '$(cat "$TMP/first")'"

# signals: SIGTERM to run is forwarded to the command
"$VOIDBOX" run --attach "unix:$SOCK" -w "$W" -- \
	sh -c 'trap "echo got-term; exit 3" TERM; echo ready; while :; do sleep 0.05; done' >"$TMP/s" &
P=$!
for _ in $(seq 100); do grep -q ready "$TMP/s" 2>/dev/null && break; sleep 0.05; done
kill -TERM $P; wait $P; rc=$?
[ $rc = 3 ] && grep -q got-term "$TMP/s" && pass run-agent-signal-forward ||
	fail run-agent-signal-forward "rc $rc, out '$(cat "$TMP/s")'"

# -t through a pty: size, Ctrl-C reaches the command, terminal restored
if need_cmd run-agent-pty python3; then
	python3 tests/run_pty.py "$VOIDBOX" run --attach "unix:$SOCK" -w "$W" -t -- \
		sh -c 'stty size; tty; echo READY; sleep 100' >"$TMP/p" 2>&1
	grep -q '^33 101$' "$TMP/p" && grep -q '^/dev/pts/' "$TMP/p" && grep -q '^EXIT 130$' "$TMP/p" &&
		grep -q RESTORED "$TMP/p" && pass run-agent-pty-ctrl-c || fail run-agent-pty-ctrl-c "$(tr '\n' ' ' <"$TMP/p" | head -c 300)"
	python3 tests/run_pty.py "$VOIDBOX" run --attach "unix:$SOCK" -w "$W" -t -- sh -c 'exit 5' >"$TMP/p2" 2>&1
	grep -q '^EXIT 5$' "$TMP/p2" && grep -q RESTORED "$TMP/p2" && pass run-agent-pty-restored || fail run-agent-pty-restored "$(cat "$TMP/p2")"
fi

# a client that half-closes still gets the output and the exit status
out=$(python3 tests/run_halfclose.py "$SOCK" 2>&1)
[ "$out" = HALFCLOSE-OK ] && pass run-agent-half-close || fail run-agent-half-close "$out"

# power-off request ends the server
printf '\0\0\0\0\5\0\0\0' | timeout 5 socat - "UNIX-CONNECT:$SOCK" >/dev/null 2>&1
wait $APID 2>/dev/null; rc=$?
[ $rc = 0 ] && [ ! -e "$SOCK" ] && pass run-agent-poweroff || fail run-agent-poweroff "agent --listen exited $rc"
