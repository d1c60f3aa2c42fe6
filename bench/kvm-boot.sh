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
# with the reason.
: "${B:=build}"
B=$(realpath "$B")
: "${GUEST_DIR:=$B/guest}"
VOIDBOX=${VOIDBOX:-$B/voidbox}
K=$GUEST_DIR/vmlinuz
N=${KVM_BENCH_ROUNDS:-20}

skip() { echo "SKIP kvm-boot: $1"; exit 0; }
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
stats() { sort -n "$1" | awk '{a[NR]=$1} END{if(NR) printf "%d %d %d", a[1], a[int((NR+1)/2)], NR; else print "0 0 0"}'; }
set -- $(stats "$TMP/qemu"); qmin=$1 qmed=$2 qn=$3
printf '%-40s %8s %8s %6s %14s\n' "boot to exit (ms)" min median runs "/qemu (median)"
[ -n "$OWN" ] || echo "(make kernel's own kernel not built: its row is missing)"
row() { # label file
	set -- "$1" $(stats "$2")
	r=$(awk -v v="$3" -v q="$qmed" 'BEGIN{ if (q > 0) printf "%.2f", v/q; else print "-" }')
	printf '%-40s %8d %8d %6d %14s\n' "$1" "$2" "$3" "$4" "$r"
}
row "voidbox run --vmm kvm --net none -- true" "$TMP/vb"
row "voidbox run --vmm kvm -- true (network)" "$TMP/vbnet"
[ -n "$OWN" ] && row "same, make kernel's vmlinux (network)" "$TMP/own"
if [ $peer = 1 ]; then
	printf '%-40s %8d %8d %6d %14s\n' "qemu -M microvm -enable-kvm" "$qmin" "$qmed" "$qn" "1.00"
	echo "target: voidbox/qemu <= 0.50"
else
	echo "qemu -M microvm -enable-kvm: not measured (no qemu-system-x86_64 here), so no ratio"
fi

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
echo "VMM RSS beyond guest memory: max $max KiB (target < 5120 KiB)"

# one boot's timeline per kernel: where the time goes
profile() { # label run-args...
	echo "profile, $1 (one boot, run --verbose --console; [s] = the guest kernel's clock):"
	shift
	"$@" --verbose --console -- true 2>&1 >/dev/null |
		grep -a -E '^voidbox run: \+|Linux version|Freeing unused kernel|Run /init|tsc: |clocksource: Switched|voidbox-agent' |
		sed 's/^/  /'
}
profile "Debian's kernel" $R
[ -n "$OWN" ] && profile "make kernel's vmlinux" "$VOIDBOX" run --vmm kvm --kernel "$OWN" --memory 256M
