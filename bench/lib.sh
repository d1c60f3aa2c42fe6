# Shared reporting for the benchmarks (sourced, after tests/lib.sh or on its
# own). A bench script measures, then describes its result through these
# functions: bench_begin NAME TITLE SETUP, one bench_row per figure against
# its peer, bench_note for paragraphs under the table, and bench_end, which
# has bench/report.py write ${BENCH_RESULTS:-bench/results}/NAME.md, .csv
# and .svg and prints the markdown table. A script that cannot run calls
# bench_skip NAME WHY instead. Rows stay in a tab-separated file in a temp
# folder (under tests/lib.sh's $TMP when there is one) until bench_end. With BENCH_EMIT=1 nothing is written: each call
# prints one "BENCH-EMIT" line instead (fields percent-encoded), for a
# bench that runs somewhere else (bench/kvm-nested.sh runs kvm-boot.sh in
# the nested test bed's L1 guest) and is written here by bench_replay.
# Missed targets never change a script's exit status: a bench reports.

BENCH_NAME="" BENCH_TITLE="" BENCH_SETUP="" BENCH_DIR="" BENCH_NOTES=0
BENCH_REPORT=${BENCH_REPORT:-bench/report.py}

# _bench_field TEXT: TEXT with tabs and newlines as spaces (one rows-file field).
_bench_field() { printf '%s' "$1" | tr '\t\n' '  '; }

# _bench_enc TEXT: TEXT percent-encoded (%, tab, newline, CR) for one BENCH-EMIT field.
_bench_enc() {
	printf '%s' "$1" | awk 'BEGIN { ORS = "" }
		{ gsub(/%/, "%25"); gsub(/\t/, "%09"); gsub(/\r/, "%0D"); if (NR > 1) print "%0A"; print }'
}

# _bench_emit FUNCTION ARGS...: prints one BENCH-EMIT line for a call.
_bench_emit() {
	printf 'BENCH-EMIT\t%s' "$1"
	shift
	for _a in "$@"; do printf '\t%s' "$(_bench_enc "$_a")"; done
	printf '\n'
}

# _bench_drop: forgets a begun result (its temp folder included).
_bench_drop() {
	[ -n "$BENCH_DIR" ] && rm -rf "$BENCH_DIR"
	BENCH_DIR="" BENCH_NAME="" BENCH_NOTES=0
}

# bench_paths: the paths a VM bench needs: B (the build folder, absolute),
# GUEST_DIR, VOIDBOX (the binary) and K (the guest kernel), each kept when
# the caller set it.
bench_paths() {
	: "${B:=build}"
	B=$(realpath "$B")
	: "${GUEST_DIR:=$B/guest}"
	VOIDBOX=${VOIDBOX:-$B/voidbox}
	K=$GUEST_DIR/vmlinuz
}

# bench_begin NAME TITLE SETUP: starts the result NAME (the file stem).
bench_begin() {
	_bench_drop
	BENCH_NAME=$1 BENCH_TITLE=$2 BENCH_SETUP=$3
	if [ "${BENCH_EMIT:-}" = 1 ]; then _bench_emit begin "$@"; return 0; fi
	# inside tests/lib.sh's $TMP where there is one: gone at exit even if the script dies first
	_d=${TMPDIR:-/tmp}
	[ -d "${TMP:-}" ] && _d=$TMP
	BENCH_DIR=$(mktemp -d "$_d/vb-bench.XXXXXX") || return 1
	: >"$BENCH_DIR/rows"
	mkdir "$BENCH_DIR/notes"
}

# bench_row METRIC UNIT VOIDBOX_VALUE PEER_NAME PEER_VALUE TARGET [NOTE]:
# one figure. A value may be empty or "-" (no data); TARGET is on the ratio
# voidbox/peer: ">=X", "<=X" or "-" (information only).
bench_row() {
	if [ $# -lt 6 ] || [ $# -gt 7 ]; then
		echo "bench_row: $# arguments (METRIC UNIT VOIDBOX PEER PEER_VALUE TARGET [NOTE])" >&2
		return 1
	fi
	if [ "${BENCH_EMIT:-}" = 1 ]; then _bench_emit row "$@"; return 0; fi
	[ -n "$BENCH_DIR" ] || { echo "bench_row: no bench_begin" >&2; return 1; }
	{
		_bench_field "$1"; printf '\t'; _bench_field "$2"; printf '\t'; _bench_field "$3"; printf '\t'
		_bench_field "$4"; printf '\t'; _bench_field "$5"; printf '\t'; _bench_field "$6"; printf '\t'
		_bench_field "${7:-}"; printf '\n'
	} >>"$BENCH_DIR/rows"
}

# bench_note TEXT: a paragraph under the table (markdown, kept verbatim).
bench_note() {
	if [ "${BENCH_EMIT:-}" = 1 ]; then _bench_emit note "$1"; return 0; fi
	[ -n "$BENCH_DIR" ] || { echo "bench_note: no bench_begin" >&2; return 1; }
	BENCH_NOTES=$((BENCH_NOTES + 1))
	printf '%s\n' "$1" >"$BENCH_DIR/notes/$(printf '%04d' "$BENCH_NOTES")"
}

# bench_end: writes NAME.md, NAME.csv and NAME.svg and prints the table.
bench_end() {
	if [ "${BENCH_EMIT:-}" = 1 ]; then _bench_emit end; return 0; fi
	[ -n "$BENCH_DIR" ] || { echo "bench_end: no bench_begin" >&2; return 1; }
	if command -v python3 >/dev/null 2>&1; then
		python3 "$BENCH_REPORT" result "$BENCH_DIR/rows" "$BENCH_NAME" "$BENCH_TITLE" "$BENCH_SETUP" \
			"$BENCH_DIR/notes" "${BENCH_RESULTS:-bench/results}"
	else
		echo "SKIP $BENCH_NAME: no python3 to write the report; the rows:"
		cat "$BENCH_DIR/rows"
	fi
	_bench_drop
}

# bench_skip NAME WHY: prints "SKIP NAME: WHY" and writes NAME.md saying so
# (NAME.csv and NAME.svg go), so the summary shows the bench as skipped.
bench_skip() {
	_bench_drop
	echo "SKIP $1: $2"
	if [ "${BENCH_EMIT:-}" = 1 ]; then _bench_emit skip "$@"; return 0; fi
	command -v python3 >/dev/null 2>&1 &&
		python3 "$BENCH_REPORT" skip "$1" "$2" "${BENCH_RESULTS:-bench/results}" >/dev/null
	return 0
}

# bench_replay FILE [FROM TO]: writes the results FILE's BENCH-EMIT lines
# describe (from a BENCH_EMIT=1 run elsewhere), the one named FROM as TO;
# returns 1 when FILE describes none.
bench_replay() {
	python3 "$BENCH_REPORT" replay "$1" "${BENCH_RESULTS:-bench/results}" ${2:+"$2"} ${3:+"$3"}
}
# BENCH_BED: how the nested test bed's results describe where they ran.
BENCH_BED="the nested test bed's L1 guest (tests/nested/l1.sh: qemu TCG, emulated EPYC-v1 with SVM, kvm_amd)"
# bench_nested FROM TO TIMEOUT COMMAND...: runs COMMANDs (the last one a
# bench with BENCH_EMIT=1) in the nested test bed's L1 guest, shows what
# they print, and writes their result FROM here as TO; without one, TO is
# skipped with the bed's own SKIP or FAIL line as the reason.
bench_nested() {
	_from=$1 _to=$2 _lim=$3
	shift 3
	_out=$(mktemp /tmp/vb-"$_to".XXXXXX) || return 1
	sh tests/nested/l1.sh --all --timeout "$_lim" -- "$@" | tee "$_out" | grep -v '^BENCH-EMIT'
	if ! bench_replay "$_out" "$_from" "$_to"; then
		_why=$(grep -E '^(SKIP|FAIL) ' "$_out" | tail -n 1)
		bench_skip "$_to" "${_why:-the nested test bed gave no result}"
	fi
	rm -f "$_out"
}

# bench_pasta_uplink NS: the routable interface pasta needs in NS (a veth
# pair, 203.0.113.1/24, default route via 203.0.113.254: pasta maps that
# gateway to NS's loopback).
bench_pasta_uplink() {
	ip -n "$1" link add vbu-a type veth peer name vbu-b &&
		ip -n "$1" addr add 203.0.113.1/24 dev vbu-a &&
		ip -n "$1" link set vbu-a up && ip -n "$1" link set vbu-b up &&
		ip -n "$1" route add default via 203.0.113.254
}

# bench_slirp_guest NS DEV: the guest's side of slirp-tap's TAP DEV in NS
# (voidbox's default MAC and addresses, MTU 65520, route via 10.0.2.2).
# NS outlives rounds and loads, where pasta's namespace is new each run:
# the client's TIME_WAIT sockets pile up there (60 s each), and past about
# 14000 of them (the even ports connect() tries first) every connect()
# scans the whole port range (CRR p50 0.42 -> 1.9 ms, seen: the guest
# kernel, not the stack). A fresh namespace never gets there, so NS's
# TIME_WAIT table is capped (the kernel drops the excess).
bench_slirp_guest() {
	ip -n "$1" link set "$2" address 52:54:00:12:34:56 mtu 65520 up &&
		ip -n "$1" addr add 10.0.2.15/24 dev "$2" &&
		ip -n "$1" route add default via 10.0.2.2 &&
		ip netns exec "$1" sysctl -qw net.ipv4.tcp_max_tw_buckets=1024
}

# burn: starts $BURN CPU-bound processes (the contended mode), their pids
# in $BURNERS (which a caller's cleanup kills); unburn: ends them.
burn() {
	_i=0
	while [ $_i -lt "$BURN" ]; do
		sh -c 'while :; do :; done' & BURNERS="$BURNERS $!"
		_i=$((_i + 1))
	done
}
unburn() { for p in $BURNERS; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; BURNERS=""; }
