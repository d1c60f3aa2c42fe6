#!/bin/sh
# Boot-to-exit time of `voidbox run --vmm kvm -- true` against qemu's microvm
# with KVM (-enable-kvm) booting the same kernel and image to the same point
# (the agent runs /bin/true through voidbox.exec= and powers off), rounds
# interleaved in one run: min and median of 20 each, and the ratio (target:
# voidbox at most half of qemu). Then the monitor's resident memory beyond
# guest RAM (VmRSS - RssShmem, the guest's memfd pages are shmem), sampled
# while a guest runs (target: under 5 MiB). Needs /dev/kvm and vmx/svm;
# elsewhere prints SKIP with the reason.
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
command -v qemu-system-x86_64 >/dev/null || skip "no qemu-system-x86_64 for the peer"

TMP=$(mktemp -d /tmp/vb-kvm-bench.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
"$VOIDBOX" mkinitramfs --kernel "$K" --busybox "$GUEST_DIR/busybox" -o "$TMP/img.gz" || skip "mkinitramfs failed"

ms() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
: >"$TMP/vb"; : >"$TMP/qemu"
i=0
while [ $i -lt "$N" ]; do
	t=$(date +%s%N)
	timeout 60 "$VOIDBOX" run --vmm kvm --kernel "$K" --initrd "$TMP/img.gz" --memory 256M -- true \
		>/dev/null 2>&1 && ms "$t" >>"$TMP/vb"
	t=$(date +%s%N)
	timeout 60 qemu-system-x86_64 -M microvm,acpi=on -enable-kvm -cpu host -m 256 -nodefaults \
		-no-reboot -nographic -serial null -kernel "$K" -initrd "$TMP/img.gz" \
		-append "console=ttyS0 quiet panic=-1 voidbox.exec=/bin/true" </dev/null >/dev/null 2>&1 &&
		ms "$t" >>"$TMP/qemu"
	i=$((i + 1))
done
stats() { sort -n "$1" | awk '{a[NR]=$1} END{if(NR) printf "%d %d %d", a[1], a[int((NR+1)/2)], NR; else print "0 0 0"}'; }
set -- $(stats "$TMP/vb"); vmin=$1 vmed=$2 vn=$3
set -- $(stats "$TMP/qemu"); qmin=$1 qmed=$2 qn=$3
printf '%-34s %8s %8s %6s\n' "boot to exit (ms)" min median runs
printf '%-34s %8d %8d %6d\n' "voidbox run --vmm kvm -- true" "$vmin" "$vmed" "$vn"
printf '%-34s %8d %8d %6d\n' "qemu -M microvm -enable-kvm" "$qmin" "$qmed" "$qn"
[ "$qmed" -gt 0 ] && awk -v v="$vmed" -v q="$qmed" 'BEGIN{printf "ratio voidbox/qemu (median): %.2f (target <= 0.50)\n", v/q}'

# resident memory beyond guest RAM, sampled every 50 ms while a guest runs
"$VOIDBOX" run --vmm kvm --kernel "$K" --initrd "$TMP/img.gz" --memory 256M -- sleep 3 >/dev/null 2>&1 &
p=$!
max=0
while kill -0 "$p" 2>/dev/null; do
	v=$(awk '/^VmRSS/{r=$2} /^RssShmem/{s=$2} END{print r-s}' /proc/$p/status 2>/dev/null)
	[ -n "$v" ] && [ "$v" -gt "$max" ] && max=$v
	sleep 0.05
done
wait "$p"
echo "VMM RSS beyond guest memory: max $max KiB (target < 5120 KiB)"
