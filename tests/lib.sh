# Shared helpers for the shell tests (sourced). Each test script prints
# "PASS name", "FAIL name: why" or "SKIP name: why" lines, counted by
# tests/run.sh. $VOIDBOX is the binary under test, $B the build folder,
# $GUEST_DIR the unpacked guest kernel and busybox, $TMP a fresh folder
# removed at exit.
set -u
: "${B:=build}"
B=$(realpath "$B")
: "${GUEST_DIR:=$B/guest}"
GUEST_DIR=$(realpath -m "$GUEST_DIR")
VOIDBOX=${VOIDBOX:-$B/voidbox}
TOOLS=$B/tools
TMP=$(mktemp -d /tmp/voidbox-test.XXXXXX)
trap 'rm -rf "$TMP"' EXIT

pass() { echo "PASS $1"; }
fail() { echo "FAIL $1: $2"; }
skip() { echo "SKIP $1: $2"; }
# check NAME CMD...: PASS when CMD succeeds, else FAIL with its last output line.
check() {
	_n=$1; shift
	if _out=$("$@" 2>&1); then pass "$_n"; else fail "$_n" "$(printf '%s' "$_out" | tail -n 1)"; fi
}
# need_guest NAME: SKIP NAME and return 1 when make guest has not run.
need_guest() {
	[ -f "$GUEST_DIR/vmlinuz" ] && return 0
	skip "$1" "no guest kernel in $GUEST_DIR (run make guest)"; return 1
}
need_cmd() {
	command -v "$2" >/dev/null 2>&1 && return 0
	skip "$1" "$2 not installed (run make deps)"; return 1
}
