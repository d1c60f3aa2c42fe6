#!/bin/sh
# Runs every test and counts them: the unit tests ($B/unit/*, ASan+UBSan
# builds) and the integration tests (tests/*.sh). Each prints PASS/FAIL/SKIP
# lines; a test program that dies without saying so counts as one FAIL.
# The last line is "N passed, N failed, N skipped". $1 filters by name.
: "${B:=build}"
export B GUEST_DIR
filter=${1:-}
log=$(mktemp /tmp/voidbox-check.XXXXXX)
per_test_timeout=${VOIDBOX_TEST_TIMEOUT:-900}

run_one() { # name, command...
	name=$1; shift
	case "$name" in *"$filter"*) ;; *) return ;; esac
	start=$(date +%s)
	out=$(timeout -k 10 "$per_test_timeout" "$@" 2>"$log.err")
	rc=$?
	printf '%s\n' "$out" | grep -E '^(PASS|FAIL|SKIP) ' >"$log.one"
	cat "$log.one"
	if [ "$rc" -ne 0 ] && ! grep -q '^FAIL ' "$log.one"; then
		echo "FAIL $name: exited $rc; stderr: $(tail -n 3 "$log.err" | tr '\n' ' ')"
		echo "FAIL $name" >>"$log.one"
	fi
	if [ -s "$log.err" ] && grep -q '^FAIL ' "$log.one"; then
		echo "--- $name stderr (last 15 lines):"; tail -n 15 "$log.err" | sed 's/^/    /'
	fi
	cat "$log.one" >>"$log"
	echo "# $name: $(($(date +%s) - start)) s" >&2
}

# The seccomp lists are for the static musl binary: the unit tests (glibc,
# ASan: their own syscalls, e.g. sigaltstack at thread exit) run without
# them (test_seccomp sets its own). Shell tests trap (tests/lib.sh).
for t in "$B"/unit/*; do
	[ -x "$t" ] && VOIDBOX_SECCOMP=off run_one "unit/${t##*/}" "$t"
done
for t in tests/*.sh; do
	case "$t" in tests/lib.sh | tests/run.sh) continue ;; esac # helpers, and this runner
	run_one "${t#tests/}" sh "$t"
done
p=$(grep -c '^PASS ' "$log"); f=$(grep -c '^FAIL ' "$log"); s=$(grep -c '^SKIP ' "$log")
rm -f "$log" "$log.err" "$log.one"
echo "$p passed, $f failed, $s skipped"
[ "$f" -eq 0 ]
