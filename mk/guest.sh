#!/bin/sh
# Downloads Debian's linux-image-amd64 kernel and Debian's static busybox and
# unpacks them (never installs them) into $1. Leaves:
#   $1/vmlinuz            the bzImage
#   $1/modules/<kver>/    the kernel's modules tree
#   $1/busybox            a static busybox
#   $1/config, $1/kver    the kernel's configuration and version
# Like mk/zlib.sh it does not depend on which pocket is newest: each version
# of a package that apt knows is tried, newest first, until one downloads.
set -e
. "$(dirname "$0")/apt.sh"
out=$(realpath -m "$1")
[ -f "$out/vmlinuz" ] && [ -x "$out/busybox" ] && [ -d "$out/modules" ] && exit 0
mkdir -p "$out/dl"
cd "$out/dl"
rm -f ./*.deb

# download META [DEPENDS-PATTERN]: downloads META (or, with a pattern, the
# package META depends on that matches it: linux-image-amd64 is a meta
# package) at the newest version that the mirror serves. Prints its name.
download() {
	_tried=""
	for _v in $(apt_versions binary "$1"); do
		_pkg="$1=$_v"
		if [ -n "${2:-}" ]; then
			_pkg=$(apt-cache depends "$1=$_v" 2>/dev/null | awk -v p="$2" '$1 == "Depends:" && $2 ~ p {print $2; exit}')
			[ -n "$_pkg" ] || continue
		fi
		if _err=$(apt-get download "$_pkg" 2>&1 >/dev/null); then
			echo "${_pkg%%=*}"
			return 0
		fi
		_tried="$_tried; $_pkg: $(printf '%s\n' "$_err" | grep -m1 '^E: ' | cut -c4-)"
	done
	echo "mk/guest.sh: cannot download $1${_tried:+ (tried${_tried#;})}" >&2
	echo "mk/guest.sh: run 'make deps' (it updates apt's lists), check that the package mirror is reachable, then run make guest again" >&2
	return 1
}

real=$(download linux-image-amd64 '^linux-image-[0-9]')
download busybox-static >/dev/null
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
