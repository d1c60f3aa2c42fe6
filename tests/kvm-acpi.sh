#!/bin/sh
# What the KVM monitor hands a guest, checked without /dev/kvm: the
# --dump-boot files for Debian's kernel (kvm-boot --dump test tool, the same
# code path as `run --dump-boot`), decompiled with iasl -d without errors,
# compared in structure with the tables qemu's microvm gives the same guest
# (/work/shared/reference/qemu-microvm, or $QEMU_MICROVM_REF), and the
# bad inputs (not a bzImage, too little memory, initrd too large) each
# refused with one line and exit 125.
. tests/lib.sh
KB=$TOOLS/kvm-boot
REF=${QEMU_MICROVM_REF:-/work/shared/reference/qemu-microvm}

need_guest kvm-acpi || exit 0
need_cmd kvm-acpi iasl || exit 0
K=$GUEST_DIR/vmlinuz

# dump CPUS WINDOWS DIR: --dump-boot and iasl -d of every table
dump() {
	"$KB" --dump "$3" "$K" "$1" 512M "$2" "" "console=ttyS0" >"$TMP/err" 2>&1 || { cat "$TMP/err"; return 1; }
	for t in "$3"/*.dat; do
		(cd "$3" && iasl -d "${t##*/}" >"${t%.dat}.log" 2>&1) || { echo "iasl -d ${t##*/} failed"; return 1; }
		# iasl exits 0 even on bad tables: judge its messages
		grep -iE 'error|warning|incorrect|unknown|invalid|fail' "${t%.dat}.log" | head -n 2 | tr '\n' ' ' |
			grep . && return 1
	done
	return 0
}

for cfg in "1 0" "2 2" "8 16"; do
	set -- $cfg
	d=$TMP/d-$1-$2
	if ! out=$(dump "$1" "$2" "$d"); then fail "kvm-acpi-iasl-$1cpu-$2dev" "$out"; continue; fi
	n=$(ls "$d"/*.dsl | wc -l)
	[ "$n" -eq 4 ] && [ -s "$d/rsdp.bin" ] && pass "kvm-acpi-iasl-$1cpu-$2dev" || fail "kvm-acpi-iasl-$1cpu-$2dev" "$n tables decompiled"
	# MADT: one Processor Local APIC per CPU
	c=$(grep -c 'Subtable Type : 00 \[Processor Local APIC\]' "$d/APIC.dsl")
	[ "$c" -eq "$1" ] && pass "kvm-acpi-madt-$1cpu" || fail "kvm-acpi-madt-$1cpu" "$c local APICs"
	# DSDT: one LNRO0005 device per window, each with its range and interrupt
	c=$(grep -c 'Name (_HID, "LNRO0005")' "$d/DSDT.dsl")
	ok=1
	i=0
	while [ "$i" -lt "$2" ]; do
		base=$(printf '0x%08X' $((0xFEB00000 + i * 0x200)))
		gsi=$(printf '0x%08X' $((5 + i)))
		awk -v b="$base," -v g="$gsi," '/Device \(VR/{dev=$0} index($0,b){m=dev} index($0,g) && m==dev{f=1} END{exit !f}' \
			"$d/DSDT.dsl" || ok=0
		i=$((i + 1))
	done
	[ "$c" -eq "$2" ] && [ "$ok" = 1 ] && pass "kvm-acpi-dsdt-$2dev" ||
		fail "kvm-acpi-dsdt-$2dev" "$c LNRO0005 devices, ranges/interrupts ok=$ok"
done

# Structure against qemu microvm's tables for the same kernel.
d=$TMP/d-2-2
if [ -d "$REF" ] && [ -f "$d/DSDT.dsl" ]; then
	why=
	for pat in 'Name (_HID, "LNRO0005")' 'Name (_CCA, One)' 'Memory32Fixed (ReadWrite,' \
		'Interrupt (ResourceConsumer, ' 'Name (_HID, EisaId ("PNP0501")' '_S5, Package (0x04)'; do
		grep -qF "$pat" "$REF/DSDT.dsl" || { why="$why ref lacks '$pat'"; continue; }
		grep -qF "$pat" "$d/DSDT.dsl" || why="$why we lack '$pat'"
	done
	for pat in 'Hardware Reduced (V5) : 1' 'Reset Register Supported (V2) : 1' 'Sleep Control Register :' \
		'Sleep Status Register :'; do
		grep -qF "$pat" "$d/FACP.dsl" || why="$why FADT lacks '$pat'"
	done
	for pat in 'Processor Local APIC' 'I/O APIC' 'Local APIC NMI'; do
		[ "$(grep -c "$pat\]" "$REF/APIC.dsl")" -ge 1 ] && ! grep -q "$pat\]" "$d/APIC.dsl" && why="$why MADT lacks $pat"
	done
	# e820: same kinds of entries as qemu gives (RAM, EBDA reserved, RAM from 1 MiB)
	grep -q '^E820 0x0 0x9fbff System RAM$' "$d/e820.txt" && grep -q '^E820 0x9fc00 0x9ffff Reserved$' "$d/e820.txt" &&
		grep -q '^E820 0x100000 0x1fffffff System RAM$' "$d/e820.txt" || why="$why e820: $(tr '\n' ';' <"$d/e820.txt")"
	[ -z "$why" ] && pass kvm-acpi-like-qemu-microvm || fail kvm-acpi-like-qemu-microvm "$why"
else
	skip kvm-acpi-like-qemu-microvm "no reference tables in $REF"
fi

# The zero page as the boot protocol has it.
zp=$d/zero_page.bin
if [ -f "$zp" ]; then
	v=$(od -An -tx1 -j $((0x1fe)) -N 2 "$zp" | tr -d ' \n'; od -An -c -j $((0x202)) -N 4 "$zp" | tr -d ' \n'
	    od -An -tx1 -j $((0x210)) -N 1 "$zp" | tr -d ' \n')
	[ "$v" = "55aaHdrSff" ] && grep -q 'virtio_mmio.device=512@0xfeb00200:6' "$d/cmdline.txt" &&
		pass kvm-acpi-zero-page || fail kvm-acpi-zero-page "boot_flag/HdrS/loader: $v; $(cat "$d/cmdline.txt")"
fi

# Bad inputs: one line, exit 125.
bad() { # name expect-substring kernel dir [cpus memory windows initrd]
	_n=$1 _w=$2 _k=$3 _d=$4; shift 4
	"$KB" --dump "$_d" "$_k" "$@" >"$TMP/out" 2>"$TMP/err"; _rc=$?
	if [ "$_rc" -eq 125 ] && [ "$(wc -l <"$TMP/err")" -eq 1 ] && grep -q "$_w" "$TMP/err"; then pass "$_n"
	else fail "$_n" "rc $_rc: $(head -c 300 "$TMP/err")"; fi
}
yes 'not a kernel' | head -c 100000 >"$TMP/notbz"
bad kvm-bad-not-bzimage "no Linux boot header" "$TMP/notbz" "$TMP/x"
head -c 100000 /bin/sh >"$TMP/notvmlinux"
bad kvm-bad-elf-not-vmlinux "not an x86-64 executable ELF" "$TMP/notvmlinux" "$TMP/x"
head -c 1000 "$K" >"$TMP/short"
bad kvm-bad-truncated "kernel:" "$TMP/short" "$TMP/x"
bad kvm-bad-small-memory "kernel too large for --memory" "$K" "$TMP/x" 1 64M
head -c $((40 << 20)) /dev/zero >"$TMP/big-initrd"
bad kvm-bad-big-initrd "initrd too large for --memory" "$K" "$TMP/x" 1 96M 0 "$TMP/big-initrd"
bad kvm-bad-cpus "cpus" "$K" "$TMP/x" 0

# The same through `voidbox run --dump-boot` (run's image, devices and command
# line; no /dev/kvm needed).
if "$VOIDBOX" run --help 2>/dev/null | grep -q -- --dump-boot; then
	d=$TMP/run-dump
	if "$VOIDBOX" run --kernel "$K" --cpus 2 --memory 1G --dump-boot "$d" >"$TMP/out" 2>"$TMP/err"; then
		why=
		for t in "$d"/*.dat; do
			(cd "$d" && iasl -d "${t##*/}" >"${t%.dat}.log" 2>&1) || why="$why iasl ${t##*/} failed"
			grep -qiE 'error|warning|incorrect|unknown|invalid|fail' "${t%.dat}.log" && why="$why ${t##*/} has messages"
		done
		[ "$(grep -c 'Processor Local APIC\]' "$d/APIC.dsl" 2>/dev/null)" = 2 ] || why="$why MADT not 2 CPUs"
		grep -q 'Name (_HID, "LNRO0005")' "$d/DSDT.dsl" 2>/dev/null || why="$why no LNRO0005"
		grep -q 'voidbox.serve=.*virtio_mmio.device=512@0xfeb00000:5' "$d/cmdline.txt" || why="$why cmdline: $(cat "$d/cmdline.txt")"
		grep -q '^initrd 0x[0-9a-f]* ([1-9]' "$d/layout.txt" || why="$why no initrd in layout"
		[ -z "$why" ] && pass kvm-run-dump-boot || fail kvm-run-dump-boot "$why"
	else
		fail kvm-run-dump-boot "rc $?: $(head -c 300 "$TMP/err")"
	fi
	"$VOIDBOX" run --kernel "$TMP/notbz" --dump-boot "$TMP/x" >"$TMP/out" 2>"$TMP/err"; rc=$?
	[ "$rc" = 125 ] && [ "$(wc -l <"$TMP/err")" = 1 ] && pass kvm-run-dump-boot-bad-kernel ||
		fail kvm-run-dump-boot-bad-kernel "rc $rc: $(head -c 300 "$TMP/err")"
else
	skip kvm-run-dump-boot "no run --dump-boot in $VOIDBOX"
fi
