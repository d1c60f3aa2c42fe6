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
# alternate the two file systems; medians and ratios (9p time / virtio-fs
# time: above 1 means virtio-fs is faster). 9p is mounted as its users
# tune it: version 9p2000.L, msize 512 KiB, cache=loose.
# Env: ROUNDS, MIB (default 256), FILES (default 10000).
. tests/lib.sh
ROUNDS=${ROUNDS:-3}
MIB=${MIB:-256}
FILES=${FILES:-10000}
[ -f "$GUEST_DIR/vmlinuz" ] || { echo "SKIP fs: no guest kernel"; exit 0; }
command -v qemu-system-x86_64 >/dev/null || { echo "SKIP fs: no qemu-system-x86_64"; exit 0; }

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
	-l 1 -o "$IMG" || { echo "FAIL fs: image"; exit 1; }
VOIDBOX_QEMU=$TMP/qemu9p timeout 3600 nice "$VOIDBOX" run --vmm qemu --net none --memory 1G --initrd "$IMG" -u root \
	-v "$TMP/vf:/vf" -v "$TMP/bin:/bench:ro" -- /bench/rounds.sh "$ROUNDS" "$MIB" "$FILES" >"$TMP/out" 2>&1
if [ "$(grep -c ' RESULT ' "$TMP/out")" != $((2 * ROUNDS)) ]; then
	echo "FAIL fs: $(tail -n 5 "$TMP/out" | tr '\n' '|')"
	exit 1
fi
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : int((a[NR/2]+a[NR/2+1])/2)}'; }
col() { grep "^$1 RESULT" "$TMP/out" | awk -v c="$2" '{print $(c + 2)}' | median; }
row() { # name column bytes-per-phase(0: a count of files)
	vf=$(col vf "$2"); p9=$(col 9p "$2")
	if [ "$3" -gt 0 ]; then
		printf '| %s | %s ms (%s MB/s) | %s ms (%s MB/s) | %s |\n' "$1" "$vf" \
			"$(awk -v b="$3" -v t="$vf" 'BEGIN{printf "%.0f", b/1e6/(t/1000)}')" "$p9" \
			"$(awk -v b="$3" -v t="$p9" 'BEGIN{printf "%.0f", b/1e6/(t/1000)}')" \
			"$(awk -v a="$p9" -v b="$vf" 'BEGIN{printf "%.2f", a/b}')"
	else
		printf '| %s | %s ms | %s ms | %s |\n' "$1" "$vf" "$p9" "$(awk -v a="$p9" -v b="$vf" 'BEGIN{printf "%.2f", a/b}')"
	fi
}
echo "| TCG guest, $ROUNDS rounds, medians | voidbox virtio-fs | qemu virtio-9p (cache=loose, msize 512K) | 9p time / virtio-fs time |"
echo "|---|---|---|---|"
row "write $MIB MiB (dd, fsync)" 1 $((MIB * 1048576))
row "read $MIB MiB (dd, cold guest cache)" 2 $((MIB * 1048576))
row "create $FILES files (sh loop)" 3 0
row "stat $FILES files (ls -l, cold)" 4 0
