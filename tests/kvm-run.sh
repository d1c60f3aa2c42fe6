#!/bin/sh
# `voidbox run --vmm kvm` end to end, where the host can run a stock kernel
# under KVM (/dev/kvm opens and the CPU has vmx or svm); elsewhere every
# check prints SKIP with that reason. Checks are grouped so that a few boots
# serve them all: exit codes and signals, stdout/stderr separation and
# byte-exactness, --cpus and --memory as the guest sees them, the virtio
# devices found through our ACPI tables, --console, bad inputs.
. tests/lib.sh
CHECKS="kvm-run-exit-codes kvm-run-signal kvm-run-streams kvm-run-bytes kvm-run-cpus-memory \
kvm-run-acpi-devices kvm-run-console kvm-run-clean-exit kvm-run-exit7-cpus1 kvm-run-exit7-cpus2 \
kvm-run-exit7-cpus4 kvm-run-on-kvm kvm-run-kvm-clock kvm-run-no-boot-hints kvm-run-auto-picks-kvm \
kvm-run-net kvm-run-timeout-124 kvm-run-stdin-eof kvm-run-triple-fault kvm-run-never-ready \
kvm-run-nothing-left"

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

RUNDIRS=$(ls -d /tmp/vb-run-* 2>/dev/null | wc -l)

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

# A stock kernel with no --append: `echo ok; exit 7` on three boots with 1,
# 2 and 4 vCPUs (nproc must agree); the first also says what the kernel
# made of the machine: KVM detected through CPUID (the paravirtual banner,
# kvm-clock as its clocksource) and no boot hint on its command line.
for n in 1 2 4; do
	v=; [ $n = 2 ] && v="--vmm auto --verbose"
	timeout 120 $R --cpus $n ${v:+$v} -u root -- sh -c 'echo ok; nproc
		echo "CS $(cat /sys/devices/system/clocksource/clocksource0/current_clocksource)"
		echo "PV $(dmesg | grep -c "Booting paravirtualized kernel on KVM")"
		echo "CMDLINE $(cat /proc/cmdline)"; exit 7' >"$TMP/x$n.out" 2>"$TMP/x$n.err"; rc=$?
	if [ $rc = 7 ] && [ "$(sed -n 1p "$TMP/x$n.out")" = ok ] && [ "$(sed -n 2p "$TMP/x$n.out")" = $n ]; then
		pass kvm-run-exit7-cpus$n
	else
		fail kvm-run-exit7-cpus$n "rc $rc, out '$(head -n 2 "$TMP/x$n.out" | tr '\n' ' ')', err '$(tail -n 2 "$TMP/x$n.err" | tr '\n' ' ')'"
	fi
done
[ "$(sed -n 's/^PV //p' "$TMP/x1.out")" = 1 ] && pass kvm-run-on-kvm ||
	fail kvm-run-on-kvm "the kernel did not say 'Booting paravirtualized kernel on KVM'"
[ "$(sed -n 's/^CS //p' "$TMP/x1.out")" = kvm-clock ] && pass kvm-run-kvm-clock ||
	fail kvm-run-kvm-clock "clocksource '$(sed -n 's/^CS //p' "$TMP/x1.out")'"
case "$(sed -n 's/^CMDLINE //p' "$TMP/x1.out")" in
"") fail kvm-run-no-boot-hints "no command line seen" ;;
*tsc_early_khz*|*no_timer_check*|*tsc=*|*lpj=*) fail kvm-run-no-boot-hints "$(sed -n 's/^CMDLINE //p' "$TMP/x1.out")" ;;
*) pass kvm-run-no-boot-hints ;;
esac
grep -q 'kvm: 2 vCPUs' "$TMP/x2.err" && pass kvm-run-auto-picks-kvm ||
	fail kvm-run-auto-picks-kvm "--vmm auto --verbose said: $(head -n 2 "$TMP/x2.err" | tr '\n' ' ')"

# The network: a name resolved through SLIRP's DNS (a dnsmasq of ours on
# loopback) and a page fetched from this host's loopback through SLIRP's TCP.
if command -v dnsmasq >/dev/null && command -v python3 >/dev/null; then
	mkdir -p "$TMP/www"; echo "page over kvm" >"$TMP/www/p.txt"
	port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
	HP=$(port); DP=$(port)
	"$GUEST_DIR/busybox" httpd -f -p "127.0.0.1:$HP" -h "$TMP/www" & H=$!
	dnsmasq --no-daemon --no-resolv --no-hosts --bind-interfaces --listen-address=127.0.0.1 --port="$DP" \
		--address=/kvm.test/10.0.2.2 --pid-file= --user=root 2>/dev/null & D=$!
	sleep 0.5
	out=$(timeout 120 $R --allow-host-loopback --dns "127.0.0.1:$DP" -- sh -c \
		"wget -q -O - http://kvm.test:$HP/p.txt" 2>"$TMP/net.err"); rc=$?
	kill $H $D 2>/dev/null; wait $H $D 2>/dev/null
	[ $rc = 0 ] && [ "$out" = "page over kvm" ] && pass kvm-run-net ||
		fail kvm-run-net "rc $rc, got '$out': $(tail -n 2 "$TMP/net.err" | tr '\n' ' ')"
else
	skip kvm-run-net "dnsmasq or python3 not installed (make deps)"
fi

# --timeout: 124, counted from the command's start; stdin EOF reaches CMD
timeout 120 $R --timeout 3 -- sh -c 'echo started; sleep 100' >"$TMP/t.out" 2>"$TMP/t.err"; rc=$?
[ $rc = 124 ] && grep -qx started "$TMP/t.out" && pass kvm-run-timeout-124 ||
	fail kvm-run-timeout-124 "rc $rc: $(tail -n 1 "$TMP/t.err")"
out=$(printf 'line1\nline2' | timeout 120 $R -- sh -c 'wc -l; echo eof') ; rc=$?
[ $rc = 0 ] && [ "$(echo $out)" = "1 eof" ] && pass kvm-run-stdin-eof || fail kvm-run-stdin-eof "rc $rc, got '$out'"

# The guest's own failures: one line, exit 125, nothing left behind.
# A guest that boots but never answers: its /init only sleeps.
printf '#!/bin/sh\necho "sleeping init"\nexec sleep 1000\n' >"$TMP/sleepy"
if "$VOIDBOX" mkinitramfs -k "$GUEST_DIR/vmlinuz" -N -B "$GUEST_DIR/busybox" -s "$TMP/sleepy" -o "$TMP/sleepy.img" 2>"$TMP/mk.err"; then
	s0=$(date +%s)
	timeout 120 $R --initrd "$TMP/sleepy.img" --net none --boot-timeout 20 -- true >"$TMP/nr.out" 2>"$TMP/nr.err"; rc=$?
	el=$(( $(date +%s) - s0 ))
	[ $rc = 125 ] && head -n 1 "$TMP/nr.err" | grep -q 'not ready after 20 s' && grep -q 'sleeping init' "$TMP/nr.err" &&
		[ $el -lt 60 ] && pass kvm-run-never-ready ||
		fail kvm-run-never-ready "rc $rc after $el s: $(head -n 3 "$TMP/nr.err" | tr '\n' '|')"
else
	fail kvm-run-never-ready "mkinitramfs: $(head -n 1 "$TMP/mk.err")"
fi
# A kernel whose 64-bit entry point is `ud2` (no IDT yet): a triple fault.
setup=$(od -An -tu1 -j 497 -N 1 "$GUEST_DIR/vmlinuz" | tr -d ' ')
cp "$GUEST_DIR/vmlinuz" "$TMP/tf"
printf '\017\013' | dd of="$TMP/tf" bs=1 seek=$(( (${setup:-4} + 1) * 512 + 512 )) conv=notrunc 2>/dev/null
timeout 60 $R --kernel "$TMP/tf" --initrd "$TMP/sleepy.img" -- true >"$TMP/tf.out" 2>"$TMP/tf.err"; rc=$?
[ $rc = 125 ] && grep -q '^voidbox run: the VM failed: the guest triple-faulted' "$TMP/tf.err" &&
	[ "$(grep -c '^voidbox run:' "$TMP/tf.err")" = 1 ] && pass kvm-run-triple-fault ||
	fail kvm-run-triple-fault "rc $rc: $(head -n 3 "$TMP/tf.err" | tr '\n' '|')"
left=$(pgrep -x voidbox | grep -v "^$$\$" | while read -r p; do grep -l "run" /proc/$p/cmdline 2>/dev/null; done | wc -l)
[ "$(ls -d /tmp/vb-run-* 2>/dev/null | wc -l)" -le "$RUNDIRS" ] && [ "$left" = 0 ] && pass kvm-run-nothing-left ||
	fail kvm-run-nothing-left "run folders: $(ls -d /tmp/vb-run-* 2>/dev/null | tr '\n' ' '), run processes: $left"
