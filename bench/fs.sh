#!/bin/sh
# Shared folders, in one guest: voidbox's virtio-fs (`run -v`, our back
# end over vhost-user) against qemu's own virtio-9p (-device
# virtio-9p-device with -fsdev local, added to the same qemu through a
# VOIDBOX_QEMU wrapper), both folders on the same host file system, under
# TCG. In the guest (as root, so it can drop its caches between phases):
# sequential write of a MiB-sized file with dd (conv=fsync: the bytes reach
# the host), sequential read of it after dropping the guest's caches, then
# creating FILES small files with a shell loop and stat-ing them all with
# ls -l after dropping the caches again. ROUNDS rounds (default 3)
# alternate the two file systems; medians and ratios (virtio-fs time / 9p
# time: below 1 means virtio-fs is faster; no target, information). 9p is
# mounted as its users tune it: version 9p2000.L, msize 512 KiB,
# cache=loose. Reports through bench/lib.sh as fs.
# Env: ROUNDS, MIB (default 256), FILES (default 10000).
. tests/lib.sh
. bench/lib.sh
ROUNDS=${ROUNDS:-3}
MIB=${MIB:-256}
FILES=${FILES:-10000}
[ -f "$GUEST_DIR/vmlinuz" ] || { bench_skip fs "no guest kernel in $GUEST_DIR (make guest)"; exit 0; }
command -v qemu-system-x86_64 >/dev/null || { bench_skip fs "no qemu-system-x86_64 (make deps)"; exit 0; }

# the guest's side: one phase set on one folder, timed in the guest
cat >"$TMP/bench.sh" <<'EOF'
#!/bin/sh
# bench.sh DIR MIB FILES: prints "write read create stat" in ms
d=$1; mib=$2; n=$3
# /proc/uptime in ms (10 ms steps; busybox date has no %N)
now() { read -r up _ </proc/uptime; f=${up#*.}; f=${f#0}; echo $(( ${up%.*} * 1000 + 10 * f )); }
ms() { echo $(( $2 - $1 )); }
drop() { sync; echo 3 >/proc/sys/vm/drop_caches; }
mkdir -p "$d" || exit 1
drop
a=$(now); dd if=/dev/zero of="$d/big" bs=1048576 count="$mib" conv=fsync 2>/dev/null || exit 1; b=$(now)
drop
c=$(now); dd if="$d/big" of=/dev/null bs=1048576 2>/dev/null || exit 1; e=$(now)
mkdir "$d/small" && cd "$d/small" || exit 1
f=$(now); i=0; while [ $i -lt "$n" ]; do echo "$i" >"f$i"; i=$((i + 1)); done; g=$(now)
drop
h=$(now); k=$(ls -l | wc -l); j=$(now)
[ "$k" -gt "$n" ] || exit 1
echo "RESULT $(ms $a $b) $(ms $c $e) $(ms $f $g) $(ms $h $j)"
EOF
chmod 755 "$TMP/bench.sh"
cat >"$TMP/rounds.sh" <<'EOF'
#!/bin/sh
# rounds.sh ROUNDS MIB FILES: alternates virtio-fs (/vf) and 9p (/p9)
mkdir -p /p9 && mount -t 9p -o trans=virtio,version=9p2000.L,msize=524288,cache=loose bench9p /p9 || exit 1
for r in $(seq "$1"); do
	echo "vf $(/bench/bench.sh /vf/r$r "$2" "$3")"
	echo "9p $(/bench/bench.sh /p9/r$r "$2" "$3")"
done
EOF
chmod 755 "$TMP/rounds.sh"
mkdir -p "$TMP/vf" "$TMP/p9" "$TMP/bin"
cp "$TMP/bench.sh" "$TMP/rounds.sh" "$TMP/bin/"
# qemu with a 9p device on $TMP/p9 besides what voidbox asks for
cat >"$TMP/qemu9p" <<EOF
#!/bin/sh
exec qemu-system-x86_64 "\$@" -fsdev local,id=p9,path=$TMP/p9,security_model=none \
	-device virtio-9p-device,fsdev=p9,mount_tag=bench9p
EOF
chmod 755 "$TMP/qemu9p"
IMG=$TMP/img.gz
"$VOIDBOX" mkinitramfs -k "$GUEST_DIR/vmlinuz" -B "$GUEST_DIR/busybox" -m virtiofs -m 9p -m 9pnet_virtio \
	-l 1 -o "$IMG" || { echo "FAIL fs: image"; bench_skip fs "could not run: mkinitramfs failed"; exit 1; }
VOIDBOX_QEMU=$TMP/qemu9p timeout 3600 nice "$VOIDBOX" run --vmm qemu --kernel "$GUEST_DIR/vmlinuz" --net none --memory 1G --initrd "$IMG" -u root \
	-v "$TMP/vf:/vf" -v "$TMP/bin:/bench:ro" -- /bench/rounds.sh "$ROUNDS" "$MIB" "$FILES" >"$TMP/out" 2>&1
if [ "$(grep -c ' RESULT ' "$TMP/out")" != $((2 * ROUNDS)) ]; then
	why=$(tail -n 5 "$TMP/out" | tr '\n' ' ')
	echo "FAIL fs: $why"
	bench_skip fs "could not run: the guest gave $(grep -c ' RESULT ' "$TMP/out") of $((2 * ROUNDS)) results: $why"
	exit 1
fi
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : int((a[NR/2]+a[NR/2+1])/2)}'; }
col() { grep "^$1 RESULT" "$TMP/out" | awk -v c="$2" '{print $(c + 2)}' | median; }
# mbs BYTES MS: MB/s of BYTES in MS
mbs() { awk -v b="$1" -v t="$2" 'BEGIN{ if (t > 0) printf "%.0f", b/1e6/(t/1000); else print "-" }'; }
# row NAME COLUMN BYTES: one phase's medians (BYTES 0: a count of files)
row() {
	vf=$(col vf "$2"); p9=$(col 9p "$2")
	note="medians of $ROUNDS"
	[ "$3" -gt 0 ] && note="$note; $(mbs "$3" "$vf") MB/s vs $(mbs "$3" "$p9") MB/s"
	bench_row "$1" ms "$vf" "qemu virtio-9p" "$p9" - "$note"
}
bench_begin fs "Shared folders: voidbox virtio-fs against qemu virtio-9p" \
	"One TCG guest (1 vCPU, 1 GiB, run as root) with both file systems on the same host file system: voidbox's virtio-fs (run -v) and qemu's own virtio-9p (-device virtio-9p-device, -fsdev local; mounted 9p2000.L, msize 512 KiB, cache=loose). Per round, alternating the two: dd write of $MIB MiB with conv=fsync, dd read of it after dropping the guest's caches, creating $FILES small files with a shell loop, ls -l of them after dropping the caches. Times are the guest's (/proc/uptime, 10 ms steps); medians of $ROUNDS rounds. Lower is better; no target (information)."
row "write $MIB MiB (dd, fsync)" 1 $((MIB * 1048576))
row "read $MIB MiB (dd, cold guest cache)" 2 $((MIB * 1048576))
row "create $FILES files (sh loop)" 3 0
row "stat $FILES files (ls -l, cold)" 4 0
bench_end
