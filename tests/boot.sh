#!/bin/sh
# Boots images from voidbox mkinitramfs on Debian's kernel under qemu
# (microvm, TCG) with voidbox as PID 1: the ready line must list eth0, the
# guest must power itself off, and a check script (voidbox.exec=) reports
# mounts, loaded modules, module parameters from the kernel command line,
# owners and device nodes, and Debian's curl (--add-binary) runs. One boot with a network device serves most
# checks; a second one, with a broken virtio_net module, shows the failure
# reported in one line and no wait for a device nothing will bind.
. tests/lib.sh
need_guest boot || exit 0
need_cmd boot qemu-system-x86_64 || exit 0
K=$GUEST_DIR/vmlinuz
KHZ=$(host_tsc_khz)

cat >"$TMP/check.sh" <<'SH'
#!/bin/sh
echo "CHK owner $(stat -c '%u:%g:%a' /workspace /home/sandbox | tr '\n' ' ')"
echo "CHK mounts $(awk '{print $2":"$3}' /proc/mounts | tr '\n' ' ')"
echo "CHK modules $(cut -d' ' -f1 /proc/modules | sort | tr '\n' ' ')"
echo "CHK params $(cat /sys/module/virtio_net/parameters/csum /sys/module/virtio_net/parameters/gso | tr '\n' ' ')"
echo "CHK nodes $(stat -c '%t:%T:%a' /dev/null | tr '\n' ' ')"
echo "CHK user $(id sandbox 2>&1)"
echo "CHK eth0 $(cat /sys/class/net/eth0/address 2>&1)"
echo "CHK init $(readlink /proc/1/exe)"
echo "CHK curl $(/usr/bin/curl --version 2>&1 | head -n 1 | cut -d' ' -f1-2)"
SH
curl=""
[ -x /usr/bin/curl ] && curl="--add-binary /usr/bin/curl"
if ! "$VOIDBOX" mkinitramfs --kernel "$K" --busybox "$GUEST_DIR/busybox" $curl \
	--add "$TMP/check.sh:/check.sh:0755" -o "$TMP/img.gz" 2>"$TMP/err"; then
	fail boot_image "$(cat "$TMP/err")"; exit 0
fi

# boot NAME LOG qemu-extra-args...: runs the guest; sets $rc and $secs
boot() {
	_log=$1; shift
	_t0=$(date +%s%N)
	timeout -k 5 90 qemu-system-x86_64 -M microvm,acpi=on -accel tcg -cpu max -m 512 \
		-nographic -no-reboot -nodefaults -serial stdio \
		-global virtio-mmio.force-legacy=false "$@" \
		-kernel "$K" -initrd "$TMP/img.gz" \
		-append "console=ttyS0 quiet tsc_early_khz=$KHZ virtio_net.csum=0 virtio-net.gso=0 voidbox.exec=/check.sh" \
		</dev/null >"$_log" 2>&1
	rc=$?
	secs=$(( ($(date +%s%N) - _t0) / 1000000 ))
}

boot "$TMP/boot1.log" -netdev user,id=n -device virtio-net-device,netdev=n
L=$TMP/boot1.log
echo "# boot with virtio-net: ${secs} ms, qemu exit $rc" >&2
tr -d '\r' <"$L" >"$L.txt"; L=$L.txt
chk() { sed -n "s/^CHK $1 //p" "$L"; }
if [ "$rc" = 0 ] && grep -q 'reboot: Power down' "$L"; then pass boot_powers_off
else fail boot_powers_off "qemu exit $rc (124: timeout); last: $(tail -n 2 "$L" | tr '\n' '|')"; fi
if grep -qx 'voidbox-agent: ready: interfaces: lo eth0' "$L"; then pass boot_ready_line_eth0
else fail boot_ready_line_eth0 "$(grep 'voidbox-agent' "$L" | head -n 1)"; fi
if grep -q 'voidbox agent:' "$L"; then fail boot_no_agent_errors "$(grep 'voidbox agent:' "$L" | head -n 1)"
else pass boot_no_agent_errors; fi
m=$(chk mounts)
ok=1
for want in /proc:proc /sys:sysfs /dev:devtmpfs /dev/pts:devpts /dev/shm:tmpfs /tmp:tmpfs /run:tmpfs; do
	case " $m " in *" $want "*) ;; *) ok=0 ;; esac
done
[ $ok = 1 ] && pass boot_mounts || fail boot_mounts "got: $m"
want="failover net_failover virtio virtio_mmio virtio_net virtio_ring vmw_vsock_virtio_transport vmw_vsock_virtio_transport_common vsock "
[ "$(chk modules)" = "$want" ] && pass boot_modules_loaded || fail boot_modules_loaded "got: $(chk modules)"
[ "$(chk params)" = "N N " ] && pass boot_module_params_from_cmdline ||
	fail boot_module_params_from_cmdline "csum gso: $(chk params) (want N N)"
[ "$(chk owner)" = "1000:1000:755 1000:1000:755 " ] && pass boot_sandbox_dirs || fail boot_sandbox_dirs "$(chk owner)"
[ "$(chk nodes)" = "1:3:666 " ] && pass boot_dev_null || fail boot_dev_null "$(chk nodes)"
case "$(chk user)" in "uid=1000(sandbox) gid=1000(sandbox)"*) pass boot_sandbox_user ;;
	*) fail boot_sandbox_user "$(chk user)" ;; esac
case "$(chk eth0)" in ??:??:??:??:??:??) pass boot_eth0_sysfs ;; *) fail boot_eth0_sysfs "$(chk eth0)" ;; esac
[ "$(chk init)" = /init ] && pass boot_agent_is_pid1 || fail boot_agent_is_pid1 "$(chk init)"
if [ -z "$curl" ]; then skip boot_curl_runs "no /usr/bin/curl on the host"
else case "$(chk curl)" in "curl "[0-9]*) pass boot_curl_runs ;; *) fail boot_curl_runs "$(chk curl)" ;; esac; fi
grep -qx 'voidbox-agent: exec /check.sh: exit 0' "$L" && pass boot_exec_hook || fail boot_exec_hook "no exit line"

# a broken module (garbage in place of virtio_net.ko) with a network device:
# the failure is one line naming the module, the others still load, the
# agent says at once that no driver will bind the device (no 10 s wait),
# the ready line lists lo only, and the guest still powers off
printf 'not a kernel module\n' >"$TMP/garbage.ko"
vn=$("$VOIDBOX" mkinitramfs --list "$TMP/img.gz" | grep '/virtio_net\.ko$')
"$VOIDBOX" mkinitramfs --kernel "$K" --busybox "$GUEST_DIR/busybox" \
	--add "$TMP/check.sh:/check.sh:0755" --add "$TMP/garbage.ko:/$vn" -o "$TMP/img.gz" 2>"$TMP/err" ||
	fail boot_broken_module "mkinitramfs: $(cat "$TMP/err")"
boot "$TMP/boot2.log" -netdev user,id=n -device virtio-net-device,netdev=n
echo "# boot with a broken virtio_net module: ${secs} ms, qemu exit $rc" >&2
L=$TMP/boot2.txt
tr -d '\r' <"$TMP/boot2.log" >"$L"
errs=$(grep -c '^voidbox agent:' "$L")
if [ "$rc" = 0 ] && grep -qx 'voidbox-agent: ready: interfaces: lo' "$L" && [ "$errs" = 2 ] &&
	grep -q '^voidbox agent: module virtio_net: finit_module: ' "$L" &&
	grep -qx 'voidbox agent: waiting for network interfaces: 1 virtio network device(s) but no virtio_net driver loaded' "$L" &&
	[ "$(chk modules)" = "failover net_failover virtio virtio_mmio virtio_ring vmw_vsock_virtio_transport vmw_vsock_virtio_transport_common vsock " ]; then
	pass boot_broken_module_reported
else
	fail boot_broken_module_reported "exit $rc, $errs error lines: $(grep -a voidbox "$L" | head -n 3 | tr '\n' '|')"
fi
