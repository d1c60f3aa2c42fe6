#!/bin/sh
# The KVM monitor's guest description booted by a real stock kernel on a
# host without usable KVM: kvm-boot --image fills guest memory exactly as
# the monitor does (zero page, e820, command line, page tables, GDT, ACPI
# tables with 8 virtio-mmio windows at qemu microvm's addresses, kernel at
# 16 MiB, initrd high) and qemu (microvm, TCG, acpi=off so it adds no tables
# of its own) loads those bytes and starts a tiny reset-vector shim that
# goes straight to long mode with OUR GDT and page tables and jumps to
# startup_64 with RSI = our zero page, as vcpu.c enters it. Debian's kernel
# must then: take our command line and e820 map, find our RSDP and tables,
# bring up 2 CPUs from our MADT, find 8 LNRO0005 devices in our DSDT and
# bind virtio-net (qemu's device in the last window) through it, with its
# edge-triggered IRQ, and power off through our FADT/_S5 (qemu has no such
# port, so the line "reboot: Power down" ends the run).
. tests/lib.sh
need_guest kvm-tcg || exit 0
need_cmd kvm-tcg qemu-system-x86_64 || exit 0
need_cmd kvm-tcg gcc || exit 0
need_cmd kvm-tcg objcopy || exit 0
K=$GUEST_DIR/vmlinuz
KHZ=$(host_tsc_khz)
CMDLINE="console=ttyS0 tsc_early_khz=$KHZ panic=-1 voidbox.exec=/check.sh"

cat >"$TMP/check.sh" <<'SH'
#!/bin/sh
echo "CHK platform $(ls /sys/bus/platform/devices | grep -c LNRO0005)"
echo "CHK devices $(for d in /sys/bus/virtio/devices/*; do echo "$(cat $d/device)@$(basename $(readlink -f $d/..))"; done | tr '\n' ' ')"
echo "CHK cpus $(grep -c ^processor /proc/cpuinfo)"
echo "CHK irq $(grep virtio /proc/interrupts | tr -s ' ' | tr '\n' ' ')"
echo "CHK resources $(grep -i 'feb00' /proc/iomem | tr -s ' ' | tr '\n' ' ')"
SH
if ! "$VOIDBOX" mkinitramfs --kernel "$K" --busybox "$GUEST_DIR/busybox" \
	--add "$TMP/check.sh:/check.sh:0755" -o "$TMP/img.gz" 2>"$TMP/err"; then
	fail kvm-tcg-image "$(cat "$TMP/err")"; exit 0
fi
if ! "$TOOLS/kvm-boot" --image "$TMP/mem" "$K" 2 512M 8 "$TMP/img.gz" "$CMDLINE" 2>"$TMP/err"; then
	fail kvm-tcg-image "$(cat "$TMP/err")"; exit 0
fi
ENTRY=$(awk '/^entry/{print $2}' "$TMP/mem/addr.txt")
KADDR=$(awk '/^kernel/{print $2}' "$TMP/mem/addr.txt")
IADDR=$(awk '/^initrd/{print $2}' "$TMP/mem/addr.txt")

# The shim: a 64 KiB "BIOS" whose reset vector jumps to real-mode code
# that loads our GDT (0x500, 5 entries), CR3 = our PML4 (0x9000), PAE,
# EFER.LME, then CR0.PE|PG at once and a far jump to __BOOT_CS (0x10).
cat >"$TMP/shim.S" <<'ASM'
	.code16
	.text
start:
	cli
	xor %ax, %ax
	mov %ax, %ds
	movw $0x27, 0x600
	movl $0x500, 0x602
	lgdtl 0x600
	mov $0x9000, %eax
	mov %eax, %cr3
	mov %cr4, %eax
	or $0x20, %eax
	mov %eax, %cr4
	mov $0xc0000080, %ecx
	rdmsr
	or $0x100, %eax
	wrmsr
	mov %cr0, %eax
	or $0x80000001, %eax
	mov %eax, %cr0
	.byte 0x66, 0xea
	.long 0xffff0000 + (long64 - start)
	.word 0x10
	.code64
long64:
	mov $0x18, %eax
	mov %eax, %ds
	mov %eax, %es
	mov %eax, %ss
	mov %eax, %fs
	mov %eax, %gs
	mov $0x7000, %esi
	mov $0x8ff0, %esp
	mov $ENTRY, %eax
	jmp *%rax
	.code16
	.org 0xfff0
	jmp start
	.org 0x10000
ASM
if ! gcc -c -DENTRY="$ENTRY" -x assembler-with-cpp "$TMP/shim.S" -o "$TMP/shim.o" 2>"$TMP/err" ||
	! objcopy -O binary "$TMP/shim.o" "$TMP/shim.bin" 2>>"$TMP/err"; then
	fail kvm-tcg-shim "$(head -c 300 "$TMP/err")"; exit 0
fi

# Boot; stop at the power-down line (or a panic), 120 s at most.
mkfifo "$TMP/out"
t0=$(date +%s%N)
timeout -k 5 120 qemu-system-x86_64 -M microvm,acpi=off,x-option-roms=off -accel tcg -cpu max \
	-smp 2 -m 512 -nographic -no-reboot -nodefaults -serial stdio \
	-global virtio-mmio.force-legacy=false -netdev user,id=n -device virtio-net-device,netdev=n \
	-bios "$TMP/shim.bin" \
	-device loader,file="$TMP/mem/low.bin",addr=0,force-raw=on \
	-device loader,file="$TMP/mem/kernel.bin",addr="$KADDR",force-raw=on \
	-device loader,file="$TMP/mem/initrd.bin",addr="$IADDR",force-raw=on \
	</dev/null >"$TMP/out" 2>&1 &
qpid=$!
: >"$TMP/log"
while IFS= read -r line; do
	printf '%s\n' "$line" | tr -d '\r' >>"$TMP/log"
	case $line in *"reboot: Power down"* | *"Kernel panic"*) break ;; esac
done <"$TMP/out"
kill "$qpid" 2>/dev/null
wait "$qpid" 2>/dev/null
echo "# kvm-tcg: $(( ($(date +%s%N) - t0) / 1000000 )) ms" >&2
L=$TMP/log
chk() { sed -n "s/^CHK $1 //p" "$L"; }
last() { tail -n 3 "$L" | tr '\n' '|' | cut -c1-300; }

if grep -q 'reboot: Power down' "$L"; then pass kvm-tcg-boot-to-poweroff
else fail kvm-tcg-boot-to-poweroff "no power-down line; last: $(last)"; fi
grep -qF "Command line: $CMDLINE virtio_mmio.device=512@0xfeb00000:5 " "$L" &&
	pass kvm-tcg-cmdline || fail kvm-tcg-cmdline "$(grep 'Command line' "$L" | head -c 300)"
e=$(grep 'BIOS-e820:' "$L" | sed 's/.*BIOS-e820: //' | tr '\n' ';')
[ "$e" = "[mem 0x0000000000000000-0x000000000009fbff] usable;[mem 0x000000000009fc00-0x000000000009ffff] reserved;[mem 0x00000000000e0000-0x00000000000fffff] reserved;[mem 0x0000000000100000-0x000000001fffffff] usable;" ] &&
	pass kvm-tcg-e820 || fail kvm-tcg-e820 "$e"
ok=1 miss=
for t in 'ACPI: RSDP 0x00000000000E0000' 'ACPI: XSDT' 'ACPI: FACP' 'ACPI: DSDT' 'ACPI: APIC' \
	'ACPI: PM: (supports S0 S5)' 'smp: Brought up 1 node, 2 CPUs'; do
	grep -qF "$t" "$L" || { ok=0; miss="$miss '$t'"; }
done
[ $ok = 1 ] && pass kvm-tcg-acpi-tables || fail kvm-tcg-acpi-tables "missing$miss"
grep -q 'ACPI.*\(Error\|BUG\)\|ACPI Warning' "$L" && fail kvm-tcg-acpi-clean "$(grep 'ACPI.*\(Error\|BUG\)\|ACPI Warning' "$L" | head -n 1)" ||
	pass kvm-tcg-acpi-clean
[ "$(chk cpus)" = 2 ] && pass kvm-tcg-cpus || fail kvm-tcg-cpus "cpus: $(chk cpus)"
[ "$(chk platform)" = 8 ] && pass kvm-tcg-lnro0005 || fail kvm-tcg-lnro0005 "LNRO0005 devices: $(chk platform)"
case "$(chk devices)" in *"0x0001@LNRO0005:07"*) pass kvm-tcg-virtio-net-via-dsdt ;;
	*) fail kvm-tcg-virtio-net-via-dsdt "virtio devices: $(chk devices)" ;; esac
case "$(chk irq)" in *"IO-APIC 12-edge virtio0"*) pass kvm-tcg-virtio-irq ;;
	*) fail kvm-tcg-virtio-irq "irq: $(chk irq)" ;; esac
grep -qx 'voidbox-agent: ready: interfaces: lo eth0' "$L" && pass kvm-tcg-agent-eth0 ||
	fail kvm-tcg-agent-eth0 "$(grep 'voidbox-agent' "$L" | head -n 3 | tr '\n' '|')"
