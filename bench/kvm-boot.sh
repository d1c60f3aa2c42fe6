#!/bin/sh
# Boot-to-exit time of `voidbox run --vmm kvm -- true` against qemu's microvm
# with KVM (-enable-kvm) booting the same kernel and image to the same point
# (the agent runs /bin/true through voidbox.exec= and powers off), rounds
# interleaved in one run: min and median of $KVM_BENCH_ROUNDS (default 20)
# each, and the ratio (target: voidbox at most half of qemu). voidbox is
# timed twice: with --net none (the same devices as the peer's: none but
# its own vsock) and with its default network. Then the monitor's resident
# memory beyond guest RAM (VmRSS - RssShmem: the guest's memfd pages are
# shmem), sampled while a guest runs (target: under 5 MiB), and one boot's
# timeline (`run --verbose --console`: the host's milestones, the kernel's
# own timestamps) as the profile. Needs /dev/kvm and vmx/svm (a real KVM
# host, or the nested test bed: bench/kvm-nested.sh); elsewhere prints SKIP
# with the reason. Reports through bench/lib.sh as kvm-boot: each voidbox
# row against qemu's median (Debian's kernel, --net none: <= 0.5, issue 11;
# make kernel's vmlinux: <= 0.3, issue 15), the RSS against its 5 MiB
# budget (<= 1.0), the timelines as notes. KVM_BENCH_BED, when set, names
# where it runs (the nested bed sets it) in the set-up paragraph.
. bench/lib.sh
bench_paths
N=${KVM_BENCH_ROUNDS:-20}

skip() { bench_skip kvm-boot "$1"; exit 0; }
[ -f "$K" ] || skip "no guest kernel in $GUEST_DIR (make guest)"
"$VOIDBOX" run --help >/dev/null 2>&1 || skip "no run applet in $VOIDBOX"
[ -e /dev/kvm ] || skip "no /dev/kvm"
grep -qwE 'vmx|svm' /proc/cpuinfo || skip "the CPU has no vmx/svm: KVM here cannot run a stock kernel"
peer=1
command -v qemu-system-x86_64 >/dev/null || peer=0  # then voidbox alone, no ratio

TMP=$(mktemp -d /tmp/vb-kvm-bench.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
"$VOIDBOX" mkinitramfs --kernel "$K" --busybox "$GUEST_DIR/busybox" -o "$TMP/img.gz" || skip "mkinitramfs failed"

ms() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
: >"$TMP/vb"; : >"$TMP/vbnet"; : >"$TMP/qemu"; : >"$TMP/own"
R="$VOIDBOX run --vmm kvm --kernel $K --initrd $TMP/img.gz --memory 256M"
# make kernel's own kernel (kernel-config/), when built: its default image
OWN=$(dirname "$VOIDBOX")/kernel/vmlinux
[ -f "$OWN" ] || OWN=
i=0
while [ $i -lt "$N" ]; do
	t=$(date +%s%N)
	timeout 120 $R --net none -- true >/dev/null 2>&1 && ms "$t" >>"$TMP/vb"
	t=$(date +%s%N)
	timeout 120 $R -- true >/dev/null 2>&1 && ms "$t" >>"$TMP/vbnet"
	if [ -n "$OWN" ]; then
		[ $i = 0 ] && "$VOIDBOX" run --vmm kvm --kernel "$OWN" --memory 256M -- true >/dev/null 2>&1 # builds its image
		t=$(date +%s%N)
		timeout 120 "$VOIDBOX" run --vmm kvm --kernel "$OWN" --memory 256M -- true >/dev/null 2>&1 && ms "$t" >>"$TMP/own"
	fi
	t=$(date +%s%N)
	[ $peer = 1 ] && timeout 120 qemu-system-x86_64 -M microvm,acpi=on -enable-kvm -cpu host -m 256 -nodefaults \
		-no-reboot -nographic -serial null -kernel "$K" -initrd "$TMP/img.gz" \
		-append "console=ttyS0 quiet panic=-1 voidbox.exec=/bin/true" </dev/null >/dev/null 2>&1 &&
		ms "$t" >>"$TMP/qemu"
	i=$((i + 1))
done
stats() { sort -n "$1" | awk '{a[NR]=$1} END{if(NR) printf "%d %d %d", a[1], a[int((NR+1)/2)], NR; else print "- - 0"}'; }
# shellcheck disable=SC2046 # stats' three words, split on purpose
set -- $(stats "$TMP/qemu"); qmed=$2 qn=$3
[ $peer = 1 ] || qmed=-
PEER="qemu -M microvm -enable-kvm (median)"
bench_begin kvm-boot "Boot to exit on KVM: voidbox run --vmm kvm against qemu microvm" \
	"Boot-to-exit wall time of voidbox run --vmm kvm -- true against qemu -M microvm,acpi=on -enable-kvm -cpu host booting Debian's kernel and the same image to the same point (the agent runs /bin/true and powers off), 256 MiB, rounds interleaved; medians of $N rounds (mins in the notes column). voidbox with --net none has the peer's devices (none but its own vsock); its default run adds the network. Lower is better.${KVM_BENCH_BED:+ Where: $KVM_BENCH_BED.}"
# row LABEL FILE TARGET: the median of FILE against qemu's
row() {
	# shellcheck disable=SC2046 # stats' three words, split on purpose
	set -- "$1" "$3" $(stats "$2")
	bench_row "$1" ms "$4" "$PEER" "$qmed" "$2" "min $3 ms, $5 runs; qemu min $(stats "$TMP/qemu" | cut -d' ' -f1) ms, $qn runs"
}
row "run --vmm kvm --net none -- true, Debian's kernel" "$TMP/vb" "<=0.5"
row "run --vmm kvm -- true, Debian's kernel (network)" "$TMP/vbnet" "-"
if [ -n "$OWN" ]; then
	row "run --vmm kvm -- true, make kernel's vmlinux (network)" "$TMP/own" "<=0.3"
else
	bench_row "run --vmm kvm -- true, make kernel's vmlinux (network)" ms - "$PEER" "$qmed" "<=0.3" \
		"make kernel not built"
fi
[ $peer = 1 ] || bench_note "qemu -M microvm -enable-kvm was not measured (no qemu-system-x86_64 here), so there are no ratios."

# resident memory beyond guest RAM, sampled every 50 ms while a guest runs
$R -- sleep 3 >/dev/null 2>&1 &
p=$!
max=0
while kill -0 "$p" 2>/dev/null; do
	v=$(awk '/^VmRSS/{r=$2} /^RssShmem/{s=$2} END{print r-s}' /proc/$p/status 2>/dev/null)
	[ -n "$v" ] && [ "$v" -gt "$max" ] && max=$v
	sleep 0.05
done
wait "$p"
bench_row "VMM RSS beyond guest RAM (VmRSS - RssShmem, max)" KiB "$max" "budget (5 MiB)" 5120 "<=1.0" \
	"sampled every 50 ms through run -- sleep 3"

# profile LABEL RUN-ARGS...: one boot's timeline as a note (where the time goes)
profile() {
	_l=$1
	shift
	_p=$("$@" --verbose --console -- true 2>&1 >/dev/null |
		grep -a -E '^voidbox run: \+|Linux version|Freeing unused kernel|Run /init|tsc: |clocksource: Switched|voidbox-agent' |
		sed 's/^/  /')
	bench_note "Profile, $_l (one boot, run --verbose --console; [s] = the guest kernel's clock):

\`\`\`
$_p
\`\`\`"
}
profile "Debian's kernel" $R
[ -n "$OWN" ] && profile "make kernel's vmlinux" "$VOIDBOX" run --vmm kvm --kernel "$OWN" --memory 256M
bench_end
