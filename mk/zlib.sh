#!/bin/sh
# Builds a static zlib for musl from Debian's zlib source into $1 (prefix).
# Debian's own libz.a is compiled against glibc and cannot be linked with musl.
set -e
out=$(realpath -m "$1")
[ -f "$out/lib/libz.a" ] && exit 0
work="$out.src"
rm -rf "$work"; mkdir -p "$work"
cd "$work"
apt-get source --download-only zlib >/dev/null 2>&1 || { echo "mk/zlib.sh: apt-get source zlib failed (run make deps)" >&2; exit 1; }
tar xf zlib_*.orig.tar.*
cd zlib-*/
CC=musl-gcc CFLAGS="-O2 -fPIC" ./configure --static --prefix="$out" >/dev/null
make -s -j2 libz.a >/dev/null
make -s install >/dev/null 2>&1 || { mkdir -p "$out/lib" "$out/include"; cp libz.a "$out/lib/"; cp zlib.h zconf.h "$out/include/"; }
cd /; rm -rf "$work"
