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
# The VMM the run tests boot with: qemu (TCG) here; tests/nested/ runs the
# same scripts with VOIDBOX_VMM=kvm inside its L1 guest.
VMM=${VOIDBOX_VMM:-qemu}
# A system call outside a thread's seccomp list ends the binary with one
# line naming it (base/seccomp.h), not a bare SIGSYS.
: "${VOIDBOX_SECCOMP:=trap}"
export VOIDBOX_SECCOMP
TMP=$(mktemp -d /tmp/voidbox-test.XXXXXX)
trap '[ -n "${KEEP_TMP:-}" ] || rm -rf "$TMP"' EXIT

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
# wait_file FILE: bounded poll (10 s) for FILE to appear.
wait_file() { _i=0; while ! [ -e "$1" ]; do _i=$((_i + 1)); [ $_i -gt 200 ] && return 1; sleep 0.05; done; }
# wait_port NS PORT [u]: bounded poll (10 s) for a TCP (or, with u, UDP)
# listener on PORT in network namespace NS.
wait_port() {
	_i=0
	while ! ip netns exec "$1" ss -ln${3:-t}H "sport = :$2" | grep -q .; do
		_i=$((_i + 1)); [ $_i -gt 200 ] && return 1
		sleep 0.05
	done
}

# host_tsc_khz: the host's TSC rate in kHz, for tsc_early_khz= (microvm under
# TCG hangs in ~4 of 10 boots without it; see shared/guest-kernel.md).
host_tsc_khz() {
	_k=$(dmesg 2>/dev/null | sed -n 's/.*tsc: Detected \([0-9]*\)\.\([0-9]*\) MHz.*/\1\2/p' | head -n 1)
	[ -n "$_k" ] || _k=$(awk -F: '/^cpu MHz/{printf "%d", $2*1000; exit}' /proc/cpuinfo)
	echo "$_k"
}
