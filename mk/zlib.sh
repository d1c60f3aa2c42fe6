#!/bin/sh
# Builds a static zlib for musl from Debian's zlib source into $1 (prefix).
# Debian's own libz.a is compiled against glibc and cannot be linked with musl.
#
# Which source version a mirror can serve depends on the day: after an
# `apt-get update` the candidate may sit in a pocket the mirror does not
# carry (a 404 for bookworm-security's pool/updates/, seen on a fresh
# machine). So every version apt knows is tried, newest first; what was
# fetched is checked against the .dsc's SHA-256 list (apt already checked the
# .dsc against the signed Sources index); one line says which version is used,
# and one line what to do when none can be had.
set -e
. "$(dirname "$0")/apt.sh"
out=$(realpath -m "$1")
[ -f "$out/lib/libz.a" ] && exit 0
work="$out.src"

# Checks every file the .dsc lists against its SHA-256. Returns 1 and names
# the first file that is missing or differs.
verify() {
	dsc=$1
	sed -n '/^Checksums-Sha256:/,/^[^ ]/p' "$dsc" | sed -n 's/^ \([0-9a-f]\{64\}\) [0-9]* \(.*\)$/\1  \2/p' >sums
	[ -s sums ] || { echo "no Checksums-Sha256 in $dsc"; return 1; }
	sha256sum -c --quiet sums 2>&1 | head -n 1 | grep . && return 1
	return 0
}

tried=""
used=""
for v in $(apt_versions source zlib); do
	rm -rf "$work"; mkdir -p "$work"
	cd "$work"
	if ! err=$(apt-get source --download-only "zlib=$v" 2>&1 >/dev/null); then
		why=$(printf '%s\n' "$err" | grep -E '^E: ' | head -n 1 | cut -c4-)
		tried="$tried
  zlib $v: ${why:-apt-get source failed}"
		continue
	fi
	dsc=$(ls ./*.dsc 2>/dev/null | head -n 1)
	if [ -z "$dsc" ] || ! bad=$(verify "$dsc"); then
		tried="$tried
  zlib $v: downloaded files do not match the .dsc: ${bad:-no .dsc}"
		continue
	fi
	used=$v
	break
done
[ -z "$tried" ] || printf '%s\n' "$tried" | sed -n 's/^  /mk\/zlib.sh: skipped /p' >&2
if [ -z "$used" ]; then
	cd /; rm -rf "$work"
	[ -n "$tried" ] && why="every version above failed" || why="apt knows no zlib source"
	echo "mk/zlib.sh: no zlib source could be had ($why): run 'make deps' (it adds deb-src entries and updates apt's lists), check that the package mirror answers, then run make again" >&2
	exit 1
fi
echo "mk/zlib.sh: using zlib $used (source checked against its .dsc), building it for musl"
tar xf zlib_*.orig.tar.*
cd zlib-*/
CC=musl-gcc CFLAGS="-O2 -fPIC" ./configure --static --prefix="$out" >/dev/null
make -s -j2 libz.a >/dev/null
make -s install >/dev/null 2>&1 || { mkdir -p "$out/lib" "$out/include"; cp libz.a "$out/lib/"; cp zlib.h zconf.h "$out/include/"; }
cd /; rm -rf "$work"
