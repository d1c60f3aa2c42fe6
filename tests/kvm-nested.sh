#!/bin/sh
# The KVM monitor on real KVM ioctls, in `make check`: the nested test bed
# (tests/nested/l1.sh: qemu TCG emulating an AMD CPU with SVM + nested
# paging, kvm_amd in that "L1" guest) runs the core set there: the unit
# tests that need /dev/kvm (a tiny guest through every exit path, the
# monitor behind vmm.h, the UART) and tests/kvm-run.sh (Debian's kernel
# booted by `voidbox run --vmm kvm` with no hints: exit codes, signals,
# streams, --cpus 1/2/4, kvm-clock, the network, --timeout, a triple fault,
# a guest that never answers). `make check-kvm` runs the whole run and
# network suites there too. About 4 minutes on 2 cores.
. tests/lib.sh
need_guest kvm-nested || exit 0
exec sh tests/nested/l1.sh --timeout 600 -- \
	"for u in test_kvm_guest test_vmm test_kvm_uart; do \$B/unit/\$u; done" \
	"sh tests/kvm-run.sh"
