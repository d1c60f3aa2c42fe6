#!/bin/sh
# Image build time and size: `voidbox mkinitramfs` against GNU cpio + gzip
# packing the very same tree (the image, unpacked once by cpio -id) at the
# same gzip level, rounds interleaved in one run; medians of N rounds and
# the ratios. Two images: the default one (voidbox, modules) and a large
# one (plus busybox and curl with its libraries). Target: voidbox no slower
# than the cpio|gzip pipeline (which does not even resolve modules or
# libraries) and no larger: ratios voidbox/peer <= 1.0 for time and size.
# Env: IMAGE_BENCH_ROUNDS (default 10). Reports through bench/lib.sh.
. bench/lib.sh
bench_paths
N=${IMAGE_BENCH_ROUNDS:-10}

skip() { bench_skip image "$1"; exit 0; }
[ -f "$K" ] || skip "no guest kernel in $GUEST_DIR (make guest)"
command -v cpio >/dev/null || skip "no cpio (make deps)"
TMP=$(mktemp -d /tmp/vb-image-bench.XXXXXX)
trap 'rm -rf "$TMP"' EXIT

ms() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
median() { sort -n "$1" | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : int((a[NR/2]+a[NR/2+1])/2)}'; }

# one NAME ARGS...: N interleaved rounds of both, then its two rows
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
	bench_row "$name image: build time" ms "$v" "find|cpio|gzip -6" "$p" "<=1.0" "medians of $N"
	bench_row "$name image: size" bytes "$vs" "find|cpio|gzip -6" "$ps" "<=1.0"
}

bench_begin image "Image build: voidbox mkinitramfs against find|cpio|gzip" \
	"voidbox mkinitramfs against GNU cpio (newc, owner 0:0) piped to gzip -6 -n, packing the very same tree (the image unpacked once by cpio -id); medians of $N interleaved rounds. Two images: the default one (voidbox, modules) and a large one (plus busybox and curl with its libraries, where /usr/bin/curl exists). Lower is better for both time and size."
one default
if [ -x /usr/bin/curl ]; then
	one large --busybox "$GUEST_DIR/busybox" --add-binary /usr/bin/curl
else
	bench_note "No /usr/bin/curl here: the large image was not measured."
fi
bench_end
