#!/bin/sh
# Runs inside the nested test bed's L1 guest (voidbox.exec=/l1.sh): Debian's
# kernel under qemu TCG with an emulated AMD CPU that has SVM and nested
# paging, so kvm_amd gives L1 a real /dev/kvm. It mounts the host's root
# (9p, read-only) and the harness's output folder (9p, writable, at the same
# path as on the host: vbnest.out= on the command line) and the guest
# kernels' folders (vbnest.binds=), makes the few places tests write to
# writable (tmpfs), then runs the folder's cmd.sh (written by
# tests/nested/l1.sh on the host) with the host's tree as its root, so every
# host tool and the checkout itself are there at their usual paths. Its
# output goes to the console and to the folder's l1.out; "L1-END" on the
# console marks the end. A missing /dev/kvm ends with a SKIP line that
# names why.
out=$(sed -n 's/.*vbnest\.out=\([^ ]*\).*/\1/p' /proc/cmdline)
say() { echo "$*"; echo "$*" >>/host"$out"/l1.out; }

# mount9p TAG PATH ro|rw WHAT: the 9p share TAG on PATH (made if need be),
# or the end of L1 with a line naming WHAT.
mount9p() {
	mkdir -p "$2" 2>/dev/null
	mount -t 9p -o trans=virtio,version=9p2000.L,$3,msize=262144 "$1" "$2" ||
		{ echo "L1: $4 (9p) did not mount"; echo "L1-END"; exit 1; }
}

mount9p host /host ro "the host's root"
for d in proc sys dev; do mount --rbind /$d /host/$d; done
for d in tmp run var/tmp; do [ -d /host/$d ] && mount -t tmpfs -o mode=1777 tmpfs /host/$d; done
# after the tmpfs mounts: the folder usually lives under /tmp
mount9p out /host"$out" rw "the output folder"
# the guest kernels (vbnest.binds=PATH:PATH, shares b1, b2...) at their
# host paths, which may lie under those tmpfs folders
n=0
for d in $(sed -n 's/.*vbnest\.binds=\([^ ]*\).*/\1/p' /proc/cmdline | tr : ' '); do
	n=$((n + 1))
	mount9p b$n /host"$d" ro "share b$n ($d)"
done
mkdir -p /host/tmp/home
if [ ! -c /dev/kvm ]; then
	why="no /dev/kvm in L1"
	grep -qw svm /proc/cpuinfo || why="$why: the emulated CPU has no svm"
	say "SKIP nested: $why ($(dmesg | grep -m1 -i 'kvm\|svm' || echo 'kvm_amd did not load'))"
	echo "L1-END"; exit 0
fi
echo "L1: $(nproc) CPU, /dev/kvm, $(sed -n 's/^model name.*: //p' /proc/cpuinfo | head -n 1)"
# In a mount namespace of its own, the host's tree is moved onto / before
# the chroot (switch_root's way): a plain chroot into /host would leave the
# commands "chrooted", and the kernel refuses user namespaces (passt's
# sandbox) to chrooted processes.
unshare -m sh -c 'cd /host && mount --move . / && exec chroot . /usr/bin/env -i \
	PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
	HOME=/tmp/home XDG_CACHE_HOME=/tmp/home/cache TMPDIR=/tmp /bin/sh "$0"' "$out/cmd.sh" |
	while IFS= read -r line; do say "$line"; done
echo "L1-END"
