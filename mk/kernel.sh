#!/bin/sh
# `make kernel`: builds voidbox's own guest kernel from Debian's
# linux-source-6.1 package (downloaded and unpacked here, never installed)
# with kernel-config/voidbox.config merged over `allnoconfig`, and installs
# into $1 (build/kernel):
#   vmlinux               the kernel as it boots: ELF, uncompressed, symbols
#                         stripped (the KVM monitor loads its segments; qemu
#                         boots it through its PVH note)
#   modules/<kver>/       modules.builtin only: everything is built in, so
#                         the image builder finds the modules it would load
#                         there and adds none
#   busybox               a copy of make guest's, for the default image
#   config, kver          the final configuration and the kernel version
# The source tree stays in $1-src for rebuilds. Each option the fragment sets
# must survive `olddefconfig`; one that does not (a missing dependency) stops
# the build with its name. As mk/guest.sh, every version of the source
# package that apt knows is tried, newest first.
set -e
. "$(dirname "$0")/apt.sh"
out=$(realpath -m "$1")
frag=$(realpath kernel-config/voidbox.config)
guest=$(realpath -m "${GUEST_DIR:-build/guest}")
src=$out-src
jobs=$(nproc 2>/dev/null || echo 2)
t0=$(date +%s)

[ -x "$guest/busybox" ] || { echo "mk/kernel.sh: no busybox in $guest (run make guest first)" >&2; exit 1; }
for t in flex bison bc; do
	command -v $t >/dev/null 2>&1 || { echo "mk/kernel.sh: $t not installed (run make deps)" >&2; exit 1; }
done

# --- the source: linux-source-6.1, newest version the mirror serves ---
mkdir -p "$src"
if [ ! -f "$src/linux/Makefile" ]; then
	mkdir -p "$src/dl"
	cd "$src/dl"
	rm -f ./*.deb
	got=""
	for v in $(apt_versions binary linux-source-6.1); do
		if apt-get download "linux-source-6.1=$v" >/dev/null 2>&1; then got=$v; break; fi
		echo "mk/kernel.sh: skipped linux-source-6.1 $v (could not be downloaded)" >&2
	done
	[ -n "$got" ] || { echo "mk/kernel.sh: no linux-source-6.1 could be downloaded: run 'make deps' (it updates apt's lists), check the package mirror, then run make kernel again" >&2; exit 1; }
	dpkg-deb --fsys-tarfile ./*.deb | tar -xf - --wildcards './usr/src/linux-source-*.tar.xz'
	rm -rf "$src/linux.tmp"; mkdir -p "$src/linux.tmp"
	tar -xJf ./usr/src/linux-source-*.tar.xz -C "$src/linux.tmp" --strip-components=1
	rm -rf "$src/linux" ./usr ./*.deb
	mv "$src/linux.tmp" "$src/linux"
	echo "$got" >"$src/version"
	echo "mk/kernel.sh: unpacked linux-source-6.1 $got"
fi

# --- the configuration ---
cd "$src/linux"
make -s allnoconfig >/dev/null
./scripts/kconfig/merge_config.sh -m -O . .config "$frag" >"$src/merge.log" 2>&1
make -s olddefconfig >>"$src/merge.log" 2>&1
bad=""
while read -r line; do
	case "$line" in
	CONFIG_*=*) grep -qx "$line" .config || bad="$bad ${line%%=*}" ;;
	"# CONFIG_"*" is not set") o=${line#\# }; o=${o%% *}; grep -q "^$o=" .config && bad="$bad $o(off)" ;;
	esac
done <"$frag"
[ -z "$bad" ] || { echo "mk/kernel.sh: kernel-config/voidbox.config asks for what this source cannot give:$bad" >&2; exit 1; }

# --- the build ---
make -s -j"$jobs" vmlinux >"$src/build.log" 2>&1 ||
	{ tail -n 20 "$src/build.log" >&2; echo "mk/kernel.sh: the kernel build failed (log: $src/build.log)" >&2; exit 1; }
kver=$(make -s kernelrelease)

# --- install ---
rm -rf "$out.tmp"; mkdir -p "$out.tmp/modules/$kver"
strip --strip-all -o "$out.tmp/vmlinux" vmlinux
if [ -f modules.builtin ]; then cp modules.builtin "$out.tmp/modules/$kver/"; else : >"$out.tmp/modules/$kver/modules.builtin"; fi
cp "$guest/busybox" "$out.tmp/busybox"
cp .config "$out.tmp/config"
echo "$kver" >"$out.tmp/kver"
rm -rf "$out"; mv "$out.tmp" "$out"
echo "make kernel: linux $kver (kernel-config/voidbox.config) in $out: vmlinux $(($(stat -c %s "$out/vmlinux") / 1024)) KiB, built in $(($(date +%s) - t0)) s"
