#!/bin/sh
# bench/net-vm.sh on real KVM ioctls where this machine has no vmx/svm:
# inside the nested test bed's L1 guest (tests/nested/l1.sh), the guest's
# network through voidbox run --vmm kvm (our monitor: virtio-mmio,
# ioeventfd, irqfd; our SLIRP) against qemu -M microvm -accel kvm with passt,
# both at MTU 65520, the same Debian kernel and image; and voidbox's RSS
# beyond guest RAM under that load. Issue 15's target: download and upload
# >= 1.0x qemu+passt. Everything in L1 runs under TCG-emulated SVM, so the
# absolute figures are far below a real host's; the ratios are the point.
# L1 has no network of its own and passt will not start without a routable
# interface, so a veth pair with a default route is made there first (no
# traffic leaves L1: the server is on its loopback).
# Env: NET_NESTED_ROUNDS (default 3), NET_NESTED_BYTES (per transfer, 64M),
# NET_NESTED_CRR (connections, 50).
. bench/lib.sh
: "${B:=build}"
export B GUEST_DIR
R=${NET_NESTED_ROUNDS:-3}
BED="$BENCH_BED; the machine line is the host's"
bench_nested net-vm net-nested 1500 \
	"ip link add vbn0 type veth peer name vbn1 && ip addr add 192.168.77.1/24 dev vbn0 && ip link set vbn0 up && ip link set vbn1 up && ip route add default via 192.168.77.2 || echo 'SKIP net-nested: no veth pair in L1 (passt needs a routable interface)'" \
	"BENCH_EMIT=1 NET_VM_ACCEL=kvm NET_VM_BED=\"$BED\" RSS_EVERY=0.5 ROUNDS=$R BYTES=${NET_NESTED_BYTES:-64M} CRR=${NET_NESTED_CRR:-50} sh bench/net-vm.sh"
