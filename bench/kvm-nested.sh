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
OUT=$(mktemp /tmp/vb-kvm-nested.XXXXXX)
trap 'rm -f "$OUT"' EXIT
R=${KVM_BENCH_ROUNDS:-3}
BED="the nested test bed's L1 guest (tests/nested/l1.sh: qemu TCG, emulated EPYC-v1 with SVM, kvm_amd), $R rounds; the machine line is the host's"
sh tests/nested/l1.sh --all --timeout 3000 -- \
	"BENCH_EMIT=1 KVM_BENCH_ROUNDS=$R KVM_BENCH_BED=\"$BED\" sh bench/kvm-boot.sh" | tee "$OUT" | grep -v '^BENCH-EMIT'
# no result came back: the bed's own SKIP or FAIL line says why
if ! bench_replay "$OUT" kvm-boot kvm-nested; then
	why=$(grep -E '^(SKIP|FAIL) ' "$OUT" | tail -n 1)
	bench_skip kvm-nested "${why:-the nested test bed gave no result}"
fi
