#!/bin/sh
# bench/kvm-boot.sh on real KVM ioctls where this machine has no vmx/svm:
# inside the nested test bed's L1 guest (tests/nested/l1.sh), voidbox's
# `run --vmm kvm -- true` against qemu -M microvm -enable-kvm booting the
# same kernel and image, the monitor's RSS beyond guest memory, and one
# boot's timeline. Everything in L1 runs under TCG-emulated SVM, so the
# absolute times are ~100x a real KVM host's; the ratios are the point.
# $KVM_BENCH_ROUNDS rounds (default 3).
: "${B:=build}"
export B GUEST_DIR
KVM_BENCH_ROUNDS=${KVM_BENCH_ROUNDS:-3} exec sh tests/nested/l1.sh --all --timeout 3000 -- \
	"KVM_BENCH_ROUNDS=${KVM_BENCH_ROUNDS:-3} sh bench/kvm-boot.sh"
