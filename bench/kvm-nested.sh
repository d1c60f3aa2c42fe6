#!/bin/sh
# bench/kvm-boot.sh on real KVM ioctls where this machine has no vmx/svm:
# inside the nested test bed's L1 guest (tests/nested/l1.sh), voidbox's
# `run --vmm kvm -- true` against qemu -M microvm -enable-kvm booting the
# same kernel and image, the monitor's RSS beyond guest memory, and one
# boot's timeline. Everything in L1 runs under TCG-emulated SVM, so the
# absolute times are ~100x a real host's; the ratios are the point.
# $KVM_BENCH_ROUNDS rounds (default 3). kvm-boot.sh runs there with
# BENCH_EMIT=1 (L1 sees this tree read-only): its result comes back as
# BENCH-EMIT lines and is written here as kvm-nested (bench/lib.sh's
# bench_replay), with kvm-boot's rows and targets (make kernel's vmlinux:
# <= 0.3 of qemu's boot, issue 15's target for this bed).
. bench/lib.sh
: "${B:=build}"
export B GUEST_DIR
R=${KVM_BENCH_ROUNDS:-3}
BED="$BENCH_BED, $R rounds; the machine line is the host's"
bench_nested kvm-boot kvm-nested 3000 \
	"BENCH_EMIT=1 KVM_BENCH_ROUNDS=$R KVM_BENCH_BED=\"$BED\" sh bench/kvm-boot.sh"
