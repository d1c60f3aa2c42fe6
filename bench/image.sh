#!/bin/sh
# Image build time and size: `voidbox mkinitramfs` against GNU cpio + gzip
# packing the very same tree (the image, unpacked once by cpio -id) at the
# same gzip level, rounds interleaved in one run; medians of N rounds and
# the ratios. Two images: the default one (voidbox, modules) and a large
# one (plus busybox and curl with its libraries). Target: voidbox no slower
# than the cpio|gzip pipeline (which does not even resolve modules or
# libraries) and no larger.
: "${B:=build}"
B=$(realpath "$B")
: "${GUEST_DIR:=$B/guest}"
VOIDBOX=${VOIDBOX:-$B/voidbox}
K=$GUEST_DIR/vmlinuz
N=${IMAGE_BENCH_ROUNDS:-10}

skip() { echo "SKIP image: $1"; exit 0; }
[ -f "$K" ] || skip "no guest kernel in $GUEST_DIR (make guest)"
command -v cpio >/dev/null || skip "no cpio (make deps)"
TMP=$(mktemp -d /tmp/vb-image-bench.XXXXXX)
trap 'rm -rf "$TMP"' EXIT

ms() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
median() { sort -n "$1" | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : int((a[NR/2]+a[NR/2+1])/2)}'; }

# one NAME ARGS...: N interleaved rounds of both, then a table row
one() {
	name=$1; shift
	"$VOIDBOX" mkinitramfs --kernel "$K" "$@" -o "$TMP/$name.gz" || skip "mkinitramfs failed"
	rm -rf "$TMP/tree"; mkdir "$TMP/tree"
	(cd "$TMP/tree" && zcat "$TMP/$name.gz" | cpio -id --quiet 2>/dev/null)
	: >"$TMP/vb"; : >"$TMP/peer"
	i=0
	while [ $i -lt "$N" ]; do
		t=$(date +%s%N)
		"$VOIDBOX" mkinitramfs --kernel "$K" "$@" -o "$TMP/$name.gz" && ms "$t" >>"$TMP/vb"
		t=$(date +%s%N)
		(cd "$TMP/tree" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet | gzip -6 -n \
			>"$TMP/peer.gz") && ms "$t" >>"$TMP/peer"
		i=$((i + 1))
	done
	v=$(median "$TMP/vb"); p=$(median "$TMP/peer")
	vs=$(stat -c %s "$TMP/$name.gz"); ps=$(stat -c %s "$TMP/peer.gz")
	printf '%-8s %8s ms %8s ms  %5s  %10s B %10s B  %5s\n' "$name" "$v" "$p" \
		"$(awk -v a="$v" -v b="$p" 'BEGIN{printf "%.2f", b ? a/b : 0}')" "$vs" "$ps" \
		"$(awk -v a="$vs" -v b="$ps" 'BEGIN{printf "%.3f", a/b}')"
}

echo "image: medians of $N rounds; ratio = voidbox / (find|cpio|gzip -6) of the same tree"
printf '%-8s %11s %11s  %5s  %12s %12s  %5s\n' image voidbox cpio+gzip time voidbox cpio+gzip size
one default
if [ -x /usr/bin/curl ]; then
	one large --busybox "$GUEST_DIR/busybox" --add-binary /usr/bin/curl
fi
