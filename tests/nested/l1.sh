#!/bin/sh
# The nested KVM test bed, host side: boots an "L1" guest under qemu TCG with
# an emulated AMD CPU that has SVM and nested paging (EPYC-v1,+svm,+npt), in
# which kvm_amd gives a real /dev/kvm, and runs shell commands there with
# `voidbox run --vmm kvm` available on real KVM ioctls (see
# tests/nested/l1-init.sh for the inside).
#
#   sh tests/nested/l1.sh [--timeout SECS] [--all] -- COMMAND...
#
# COMMAND runs in a snapshot of tests/ and the build (L1's root is this
# host's root over 9p, read-only, with tmpfs on /tmp and /run) with B,
# GUEST_DIR, VOIDBOX and VOIDBOX_VMM=kvm set; its PASS/FAIL/SKIP lines come back with
# "nested/" before each name (--all: every line it printed, as it is).
# SKIP (with the reason) only where the bed cannot start: no qemu, no 9p in
# this qemu, no svm in the emulated CPU.
# VOIDBOX_L1_APPEND adds to L1's kernel command line (kvm_amd.PARAM=V: the
# agent passes module parameters from there when it loads kvm_amd).
# Costs (2 cores): L1 boots in about 8 s, each `voidbox run` of Debian's
# kernel in it takes 10-20 s.
. tests/lib.sh
limit=900
all=0
while [ $# -gt 0 ]; do
	case "$1" in
	--timeout) limit=$2; shift 2 ;;
	--all) all=1; shift ;;
	--) shift; break ;;
	*) break ;;
	esac
done
NAME=nested
# L1's qemu: make check's $B/bed-qemu/qemu (>= 8.2, mk/bed-qemu.sh), else the system's
QEMU=${VOIDBOX_QEMU:-$B/bed-qemu/qemu}
[ -n "${VOIDBOX_QEMU:-}" ] || [ -x "$QEMU" ] || QEMU=qemu-system-x86_64
need_guest "$NAME" || exit 0
command -v "$QEMU" >/dev/null 2>&1 || { skip "$NAME" "$QEMU not installed (run make deps)"; exit 0; }
# one device's help, not -device help: that loads every module qemu finds,
# and the bed's own qemu (mk/bed-qemu.sh) must not load the system's
"$QEMU" -M none -device virtio-9p-pci,help 2>/dev/null | grep -q 'virtio-9p-pci options' ||
	{ skip "$NAME" "$QEMU has no virtio-9p-pci (L1's root is the host's over 9p)"; exit 0; }
"$QEMU" -cpu help 2>/dev/null | grep -qw 'EPYC-v1' ||
	{ skip "$NAME" "$QEMU has no EPYC-v1 CPU model (the emulated CPU with svm)"; exit 0; }

# L1's initramfs: the agent as init, kvm_amd, the 9p and virtio-pci drivers,
# veth (network tests make pairs), busybox, and the init script. Rebuilt
# when an input is newer than it.
img=$B/nested/l1.img
init=tests/nested/l1-init.sh
if [ ! -s "$img" ] || [ "$VOIDBOX" -nt "$img" ] || [ "$init" -nt "$img" ] || [ "$GUEST_DIR/vmlinuz" -nt "$img" ]; then
	mkdir -p "$B/nested"
	if ! "$VOIDBOX" mkinitramfs -k "$GUEST_DIR/vmlinuz" -m kvm_amd -m 9p -m 9pnet_virtio -m virtio_pci \
		-m veth -m tun -B "$GUEST_DIR/busybox" -a "$init:/l1.sh:0755" -o "$img.tmp" 2>"$TMP/mk.err"; then
		fail "$NAME" "L1 image: $(head -n 3 "$TMP/mk.err" | tr '\n' ' ')"; exit 0
	fi
	mv "$img.tmp" "$img"
fi

# L1 runs a snapshot of the tests and the build, so rebuilding or editing
# here while it runs changes nothing there.
OUT=$TMP/out
SNAP=$OUT/snap   # inside the folder L1 mounts: its /tmp is its own tmpfs
mkdir -p "$SNAP/build"
cp -a tests bench "$SNAP/"
cp -a "$VOIDBOX" "$SNAP/build/voidbox"
for d in unit tools; do [ -d "$B/$d" ] && cp -a "$B/$d" "$SNAP/build/$d"; done
gdir=$(realpath "$GUEST_DIR") kdir=$(realpath "$B/kernel" 2>/dev/null)
ln -s "$gdir" "$SNAP/build/guest"  # run finds its kernels beside itself
[ -f "$kdir/vmlinux" ] && ln -s "$kdir" "$SNAP/build/kernel"
{
	echo "cd '$SNAP' || exit 1"
	echo "export B='$SNAP/build' GUEST_DIR='$gdir' VOIDBOX='$SNAP/build/voidbox' VOIDBOX_VMM=kvm"
	for c in "$@"; do echo "$c"; done
} >"$OUT/cmd.sh"
# The guest kernels as read-only 9p shares of their own, mounted in L1 at
# their host paths: the root share alone does not show them when they lie
# under a folder L1 covers with tmpfs (a checkout in /tmp).
binds="" shares="" n=0
for d in "$gdir" "$kdir"; do
	[ -d "$d" ] || continue
	n=$((n + 1))
	case "$d" in *[!A-Za-z0-9/._+-]*) fail "$NAME" "path L1 cannot share: $d"; exit 0 ;; esac
	binds="$binds:$d" shares="$shares -fsdev local,id=b$n,path=$d,security_model=none,readonly=on -device virtio-9p-pci,fsdev=b$n,mount_tag=b$n"
done
start=$(date +%s)
# -smp 1: two L1 CPUs under TCG ran the same cases slower on 2 host cores.
# The HMP monitor socket is for a stall: where the CPU was goes in the FAIL.
# A Ctrl-C or TERM here ends qemu too (a background job ignores SIGINT).
mon=$TMP/l1.mon
"$QEMU" -M q35 -accel tcg -cpu EPYC-v1,+svm,+npt -m 4G -smp 1 \
	-nographic -no-reboot -kernel "$GUEST_DIR/vmlinuz" -initrd "$img" \
	-monitor "unix:$mon,server=on,wait=off" \
	-fsdev local,id=root,path=/,security_model=none,readonly=on \
	-device virtio-9p-pci,fsdev=root,mount_tag=host \
	-fsdev local,id=out,path="$OUT",security_model=none \
	-device virtio-9p-pci,fsdev=out,mount_tag=out $shares \
	-append "console=ttyS0 panic=-1 quiet voidbox.exec=/l1.sh vbnest.out=$OUT vbnest.binds=${binds#:}${VOIDBOX_L1_APPEND:+ $VOIDBOX_L1_APPEND}" \
	</dev/null >"$TMP/console.log" 2>&1 &
qpid=$!
trap 'kill "$qpid" 2>/dev/null; exit 130' INT TERM
while kill -0 "$qpid" 2>/dev/null && [ $(($(date +%s) - start)) -lt "$limit" ]; do sleep 1; done
cpu=
if kill -0 "$qpid" 2>/dev/null; then
	# out of time: the CPU's state (L2's when L1 sits in guest mode), then
	# the end, as timeout(1) would have (rc 124)
	cpu=$(printf 'info registers\nx/3i $pc\n' | timeout 10 socat -t 5 - "UNIX-CONNECT:$mon" 2>&1 |
		tr -d '\r' | grep -aE '^([RE]IP|CR0|0x)' | tr -s ' \n' '  ')
	kill "$qpid"; sleep 5; kill -9 "$qpid" 2>/dev/null
	wait "$qpid"; rc=124
else
	wait "$qpid"; rc=$?
fi
trap - INT TERM
echo "# nested: L1 ran $(($(date +%s) - start)) s, qemu exit $rc ($("$QEMU" --version 2>/dev/null | head -n 1))" >&2
if [ $all = 1 ]; then
	[ -f "$OUT/l1.out" ] && cat "$OUT/l1.out"
else
	[ -f "$OUT/l1.out" ] && sed -n 's/^\(PASS\|FAIL\|SKIP\) /\1 nested\//p' "$OUT/l1.out"
fi
if ! grep -aq '^L1-END' "$TMP/console.log"; then
	if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then why="L1 did not finish in $limit s"
	else why="L1 ended early (qemu exit $rc)"; fi
	fail "$NAME" "$why; console: $(grep -av '^qemu-system' "$TMP/console.log" | tail -n 4 | tr '\n\r' '  ')${cpu:+; CPU then: $cpu}"
elif [ $all = 0 ] && ! grep -q '^\(PASS\|FAIL\|SKIP\) ' "$OUT/l1.out" 2>/dev/null; then
	fail "$NAME" "no results from L1: $(tail -n 4 "$OUT/l1.out" 2>/dev/null | tr '\n' ' ')"
fi
