#!/bin/sh
# The nested KVM test bed's qemu (tests/nested/l1.sh runs L1 with DIR/qemu).
# qemu's TCG before 8.2 does not check for interrupts when STI's
# one-instruction shadow ends, and the bed's L1 can then stay inside its L2
# guest for good (docs/kvm.md); bookworm ships 7.2. So where the system's
# qemu-system-x86 is older than $QEMU_MIN, the newest one apt knows (the
# release's backports, which make deps adds to apt's sources) is downloaded
# with its data and seabios and unpacked into DIR/root, never installed: the
# rest of voidbox keeps the release's qemu (a 10.0 there places a PVH
# kernel's initrd over microvm's ACPI tables). DIR/qemu is a wrapper that
# runs it with its own firmware, or the system's qemu where that is new
# enough, or, saying that the bed may freeze, where nothing newer is found.
#   sh mk/bed-qemu.sh DIR
set -e
. "$(dirname "$0")/apt.sh"
[ $# -eq 1 ] || { echo "usage: sh mk/bed-qemu.sh DIR" >&2; exit 2; }
QEMU_MIN=${QEMU_MIN:-1:8.2}
mkdir -p "$1"
DIR=$(cd "$1" && pwd)

# wrapper WHAT [ROOT]: writes DIR/qemu, running ROOT's qemu (with ROOT's
# firmware first on qemu's search path) or, without ROOT, the system's.
wrapper() {
	{
		echo '#!/bin/sh'
		echo "# the nested bed's qemu: $1 (mk/bed-qemu.sh)"
		if [ -n "${2:-}" ]; then
			echo "exec \"$2/usr/bin/qemu-system-x86_64\" -L \"$2/usr/share/seabios\" -L \"$2/usr/share/qemu\" \"\$@\""
		else
			echo 'exec qemu-system-x86_64 "$@"'
		fi
	} >"$DIR/qemu.tmp"
	chmod +x "$DIR/qemu.tmp"
	mv "$DIR/qemu.tmp" "$DIR/qemu"
	echo "make bed-qemu: $1"
}

sys=$(dpkg-query -W -f='${Status} ${Version}' qemu-system-x86 2>/dev/null |
	sed -n 's/^install ok installed //p')
if [ -n "$sys" ] && dpkg --compare-versions "$sys" ge "$QEMU_MIN"; then
	wrapper "the system's qemu-system-x86 $sys"
	exit 0
fi
best=$(apt_versions backports qemu-system-x86 | head -n 1)
if [ -z "$best" ] || ! dpkg --compare-versions "$best" ge "$QEMU_MIN"; then
	echo "make bed-qemu: no qemu-system-x86 >= ${QEMU_MIN#1:} in apt's lists (newest: ${best:-none}): the nested bed runs the system's, which may freeze (docs/kvm.md)" >&2
	wrapper "the system's qemu-system-x86 ${sys:-(none)}, nothing newer in apt's lists"
	exit 0
fi
seabios=$(apt_versions backports seabios | head -n 1)
tmp=$(mktemp -d /tmp/voidbox-bed-qemu.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
if ! (cd "$tmp" && apt_get download "qemu-system-x86=$best" "qemu-system-common=$best" \
	"qemu-system-data=$best" ${seabios:+"seabios=$seabios"}); then
	echo "make bed-qemu: cannot download qemu-system-x86 $best: the nested bed runs the system's, which may freeze (docs/kvm.md)" >&2
	wrapper "the system's qemu-system-x86 ${sys:-(none)}, $best could not be downloaded"
	exit 0
fi
rm -rf "$DIR/root"
for d in "$tmp"/*.deb; do
	dpkg-deb -x "$d" "$DIR/root"
done
[ -x "$DIR/root/usr/bin/qemu-system-x86_64" ] ||
	{ echo "make bed-qemu: qemu-system-x86 $best holds no usr/bin/qemu-system-x86_64" >&2; exit 1; }
wrapper "qemu-system-x86 $best, unpacked in $DIR/root" "$DIR/root"
