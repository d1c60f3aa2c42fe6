#!/bin/sh
# `make check-kvm`: the whole run, network, shared-folder and own-kernel
# suites with `--vmm kvm`, on
# real KVM ioctls inside the nested test bed (tests/nested/l1.sh), after the
# core set that `make check` runs there too (tests/kvm-nested.sh). Ends with
# "N passed, N failed, N skipped" like `make check`. About 15 minutes on 2
# cores: every `voidbox run` there costs 10-20 s.
. tests/lib.sh
sh tests/nested/l1.sh --timeout 3000 -- \
	"for u in test_kvm_guest test_vmm test_kvm_uart; do \$B/unit/\$u; done" \
	"sh tests/kvm-run.sh" \
	"VOIDBOX_VM_TIMEOUT=300 sh tests/run-vm.sh" \
	"sh tests/net.sh" \
	"sh tests/fs.sh" \
	"sh tests/kernel.sh" | tee "$TMP/res"
p=$(grep -c '^PASS ' "$TMP/res"); f=$(grep -c '^FAIL ' "$TMP/res"); s=$(grep -c '^SKIP ' "$TMP/res")
echo "$p passed, $f failed, $s skipped"
[ "$f" -eq 0 ]
