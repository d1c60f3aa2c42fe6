#!/bin/sh
# Downloads Debian's linux-image-amd64 kernel and Debian's static busybox and
# unpacks them (never installs them) into $1. Leaves:
#   $1/vmlinuz            the bzImage
#   $1/modules/<kver>/    the kernel's modules tree
#   $1/busybox            a static busybox
set -e
out=$(realpath -m "$1")
[ -f "$out/vmlinuz" ] && [ -x "$out/busybox" ] && [ -d "$out/modules" ] && exit 0
mkdir -p "$out/dl"
cd "$out/dl"
# linux-image-amd64 is a meta package: follow its dependency to the real one.
real=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/{print $2; exit}')
[ -n "$real" ] || { echo "mk/guest.sh: cannot resolve linux-image-amd64 (apt-get update?)" >&2; exit 1; }
rm -f ./*.deb
apt-get download "$real" busybox-static >/dev/null
rm -rf "$out/root"; mkdir -p "$out/root"
for d in ./*.deb; do dpkg-deb -x "$d" "$out/root"; done
kimg=$(ls "$out/root/boot"/vmlinuz-* | head -n 1)
kver=${kimg##*/vmlinuz-}
rm -rf "$out/modules"; mkdir -p "$out/modules"
mv "$out/root/lib/modules/$kver" "$out/modules/$kver"
cp "$kimg" "$out/vmlinuz.tmp"; mv "$out/vmlinuz.tmp" "$out/vmlinuz"
cp "$out/root/boot/config-$kver" "$out/config"
cp "$out/root/bin/busybox" "$out/busybox"
rm -rf "$out/root" "$out/dl"
echo "$kver" > "$out/kver"
echo "make guest: $real ($kver) in $out"
