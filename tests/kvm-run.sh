#!/bin/sh
# `voidbox run --vmm kvm` end to end, where the host can run a stock kernel
# under KVM (/dev/kvm opens and the CPU has vmx or svm); elsewhere every
# check prints SKIP with that reason. Checks are grouped so that a few boots
# serve them all: exit codes and signals, stdout/stderr separation and
# byte-exactness, --cpus and --memory as the guest sees them, the virtio
# devices found through our ACPI tables, --console, bad inputs.
. tests/lib.sh
CHECKS="kvm-run-exit-codes kvm-run-signal kvm-run-streams kvm-run-bytes kvm-run-cpus-memory \
kvm-run-acpi-devices kvm-run-console kvm-run-clean-exit"

HW_CHECKS="kvm-hw-boot-poweroff kvm-hw-boot-cpus kvm-hw-boot-vsock-via-acpi kvm-hw-boot-console"
why=
if [ ! -e /dev/kvm ]; then why="no /dev/kvm on this host"
elif ! (exec 3<>/dev/kvm) 2>/dev/null; then why="/dev/kvm does not open (permission?)"
elif ! grep -qwE 'vmx|svm' /proc/cpuinfo; then
	why="/dev/kvm opens but the CPU has no vmx/svm (PVM or nested KVM cannot run a stock kernel)"
fi
has_run=1
"$VOIDBOX" run --help >/dev/null 2>&1 || has_run=0
if [ -n "$why" ]; then
	# What can be checked here: run refuses --vmm kvm with one line, exit 125.
	if [ $has_run = 1 ]; then
		"$VOIDBOX" run --vmm kvm -- true >"$TMP/out" 2>"$TMP/err"; rc=$?
		if [ "$rc" = 125 ] && [ "$(wc -l <"$TMP/err")" = 1 ] && grep -q 'vmx\|svm\|kvm' "$TMP/err"; then
			pass kvm-run-refused-here
		else fail kvm-run-refused-here "rc $rc: $(head -c 300 "$TMP/err")"; fi
	else
		skip kvm-run-refused-here "no run applet in $VOIDBOX"
	fi
	for c in $HW_CHECKS $CHECKS; do skip "$c" "$why"; done
	exit 0
fi
need_guest kvm-run || exit 0

# The monitor alone (tools/kvm-boot, no run): Debian's kernel with an
# initramfs whose agent runs a check script and powers off; a vsock device
# that the kernel must find through the DSDT.
cat >"$TMP/check.sh" <<'SH'
#!/bin/sh
echo "CHK cpus $(grep -c ^processor /proc/cpuinfo)"
echo "CHK devices $(for d in /sys/bus/virtio/devices/*; do echo "$(cat $d/device)@$(basename $(readlink -f $d/..))"; done | tr '\n' ' ')"
SH
if "$VOIDBOX" mkinitramfs --kernel "$GUEST_DIR/vmlinuz" --busybox "$GUEST_DIR/busybox" \
	--add "$TMP/check.sh:/check.sh:0755" -o "$TMP/img.gz" 2>"$TMP/err"; then
	TMPDIR=$TMP timeout 60 "$TOOLS/kvm-boot" "$GUEST_DIR/vmlinuz" 2 256M 1 "$TMP/img.gz" \
		"console=ttyS0 panic=-1 voidbox.exec=/check.sh" >"$TMP/hw.log" 2>&1; rc=$?
	tr -d '\r' <"$TMP/hw.log" >"$TMP/hw.txt"
	[ $rc = 0 ] && grep -q 'reboot: Power down' "$TMP/hw.txt" && pass kvm-hw-boot-poweroff ||
		fail kvm-hw-boot-poweroff "rc $rc; $(tail -n 2 "$TMP/hw.txt" | tr '\n' '|')"
	[ "$(sed -n 's/^CHK cpus //p' "$TMP/hw.txt")" = 2 ] && pass kvm-hw-boot-cpus ||
		fail kvm-hw-boot-cpus "$(grep '^CHK cpus' "$TMP/hw.txt")"
	case "$(sed -n 's/^CHK devices //p' "$TMP/hw.txt")" in *0x0013@LNRO0005:00*) pass kvm-hw-boot-vsock-via-acpi ;;
		*) fail kvm-hw-boot-vsock-via-acpi "$(grep '^CHK devices' "$TMP/hw.txt")" ;; esac
	grep -q 'ACPI: RSDP 0x00000000000E0000' "$TMP/hw.txt" && pass kvm-hw-boot-console ||
		fail kvm-hw-boot-console "no kernel log on the console"
else
	for c in $HW_CHECKS; do fail "$c" "mkinitramfs: $(head -c 200 "$TMP/err")"; done
fi

if [ $has_run = 0 ]; then
	for c in $CHECKS; do skip "$c" "no run applet in $VOIDBOX"; done
	exit 0
fi
R="$VOIDBOX run --vmm kvm"

# exit codes: one boot each, they are cheap under KVM
ok=1
timeout 60 $R -- true || ok=0
timeout 60 $R -- false; [ $? = 1 ] || ok=0
timeout 60 $R -- sh -c 'exit 42'; [ $? = 42 ] || ok=0
timeout 60 $R -- /nonexistent 2>/dev/null; [ $? = 127 ] || ok=0
[ $ok = 1 ] && pass kvm-run-exit-codes || fail kvm-run-exit-codes "true/false/42/127 not as expected"
timeout 60 $R -- sh -c 'kill -9 $$'; rc=$?
[ "$rc" = 137 ] && pass kvm-run-signal || fail kvm-run-signal "kill -9 gave $rc"

# one boot: streams, sizes, CPUs, memory, devices
timeout 120 $R --cpus 2 --memory 256M -- sh -c '
	echo out1; echo err1 >&2
	echo "CPUS $(nproc)"
	echo "MEM $(sed -n "s/MemTotal: *\([0-9]*\) kB/\1/p" /proc/meminfo)"
	echo "LNRO $(ls /sys/bus/platform/devices | grep -c LNRO0005)"
	echo "VIRTIO $(cat /sys/bus/virtio/devices/*/device | tr "\n" " ")"
	head -c 4194304 /dev/urandom | tee /tmp/blob | sha256sum >&2
	cat /tmp/blob' >"$TMP/out" 2>"$TMP/err"; rc=$?
grep -qx out1 "$TMP/out" && grep -qx err1 "$TMP/err" && ! grep -q err1 "$TMP/out" && [ $rc = 0 ] &&
	pass kvm-run-streams || fail kvm-run-streams "rc $rc; stderr: $(head -c 200 "$TMP/err")"
want=$(grep -oE '^[0-9a-f]{64}' "$TMP/err")
got=$(tail -c 4194304 "$TMP/out" | sha256sum | cut -d' ' -f1)
[ -n "$want" ] && [ "$want" = "$got" ] && pass kvm-run-bytes || fail kvm-run-bytes "sha256 $want vs $got"
c=$(sed -n 's/^CPUS //p' "$TMP/out"); m=$(sed -n 's/^MEM //p' "$TMP/out")
[ "$c" = 2 ] && [ "${m:-0}" -gt 180000 ] && [ "${m:-0}" -le 262144 ] && pass kvm-run-cpus-memory ||
	fail kvm-run-cpus-memory "nproc $c, MemTotal $m kB"
l=$(sed -n 's/^LNRO //p' "$TMP/out"); v=$(sed -n 's/^VIRTIO //p' "$TMP/out")
[ "${l:-0}" -ge 1 ] && case " $v" in *0x0013*) true ;; *) false ;; esac &&
	pass kvm-run-acpi-devices || fail kvm-run-acpi-devices "LNRO0005: $l, virtio ids: $v"

# --console shows the kernel's log
timeout 60 $R --console -- true 2>"$TMP/con"
grep -q 'Linux version' "$TMP/con" && grep -q 'ACPI: RSDP' "$TMP/con" && pass kvm-run-console ||
	fail kvm-run-console "$(tail -n 2 "$TMP/con" | tr '\n' '|')"

# no thread or child left behind: run exits and nothing of it remains
timeout 60 $R -- true & p=$!
wait $p; rc=$?
[ $rc = 0 ] && ! kill -0 $p 2>/dev/null && pass kvm-run-clean-exit || fail kvm-run-clean-exit "rc $rc"
