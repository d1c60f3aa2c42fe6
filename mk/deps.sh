#!/bin/sh
# Installs, from Debian's archive, everything voidbox needs to build and test.
# Idempotent: a second run installs nothing and takes a second. Waits for
# apt's locks when another apt is running (mk/apt.sh).
set -e
. "$(dirname "$0")/apt.sh"
PKGS="make gcc libc6-dev musl-tools linux-libc-dev zlib1g-dev dpkg-dev file
 qemu-system-x86 tshark acpica-tools dnsmasq-base iperf3 passt busybox-static
 cpio tcpdump kmod tmux socat iproute2 curl openssl python3 xz-utils zstd
 flex bison bc libelf-dev
 clang libclang-rt-14-dev strace"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
	echo "make deps: installing$missing"
	export DEBIAN_FRONTEND=noninteractive
	echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
	apt_get update -q
	apt_get install -y -q --no-install-recommends $missing
fi
# The nested KVM bed needs qemu >= 8.2 (mk/bed-qemu.sh unpacks one into the
# build folder): where the release's is older, apt must know its backports.
have=$(apt_versions binary qemu-system-x86 | head -n 1)
if ! dpkg --compare-versions "${have:-0}" ge 1:8.2 && ! apt_backports_source; then
	echo "make deps: no backports suite on this mirror: the nested KVM bed will run qemu ${have:-(none)}, which may freeze (docs/kvm.md)" >&2
fi
# zlib's source for the musl build comes from a deb-src entry (none by default).
src=/etc/apt/sources.list.d/voidbox-src.sources
if [ ! -f "$src" ]; then
	sed 's/^Types: deb$/Types: deb-src/' /etc/apt/sources.list.d/debian.sources > "$src"
	apt_get update -q
fi
