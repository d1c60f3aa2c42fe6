#!/bin/sh
# voidbox's own guest kernel (`make kernel`: kernel-config/voidbox.config,
# an uncompressed ELF vmlinux with everything built in) end to end under
# `voidbox run --vmm $VMM`: run picks it over Debian's when it is there,
# qemu boots it through its PVH note (the KVM monitor, in the nested bed,
# loads its ELF segments), the default image for it carries no modules and
# the agent loads none, and the command, its exit code, --cpus, the network
# (a page from this host's loopback through SLIRP) and vsock all work.
# SKIP with the reason when make kernel has not run.
. tests/lib.sh
K=$B/kernel/vmlinux
[ -f "$K" ] || { skip kernel-config "no $K (run make kernel)"; exit 0; }
need_cmd kernel-config python3 || exit 0
[ "$VMM" = qemu ] && { need_cmd kernel-config qemu-system-x86_64 || exit 0; }
export XDG_CACHE_HOME=$TMP/cache

mkdir -p "$TMP/www"
echo "served to the voidbox kernel" >"$TMP/www/p.txt"
HP=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$GUEST_DIR/busybox" httpd -f -p "127.0.0.1:$HP" -h "$TMP/www" & H=$!
trap 'kill $H 2>/dev/null; [ -n "${KEEP_TMP:-}" ] || rm -rf "$TMP"' EXIT

timeout 180 "$VOIDBOX" run --vmm "$VMM" --verbose --cpus 2 --allow-host-loopback -- sh -c "
	echo \"KVER \$(uname -r)\"
	echo \"CPUS \$(nproc)\"
	echo \"MODS \$(ls /lib/modules 2>/dev/null | wc -l) \$(grep -c . /proc/modules 2>/dev/null || echo none)\"
	echo \"LINK \$(cat /sys/class/net/eth0/operstate)\"
	echo \"HTTP \$(wget -q -O - http://10.0.2.2:$HP/p.txt)\"
	exit 7" >"$TMP/out" 2>"$TMP/err"; rc=$?
field() { sed -n "s/^$1 //p" "$TMP/out" | head -n 1; }
[ $rc = 7 ] && pass kernel-config-boot-exit7 || fail kernel-config-boot-exit7 "rc $rc: $(grep -v '^voidbox run: +' "$TMP/err" | tail -n 3 | tr '\n' '|')"
[ "$(field KVER)" = "$(cat "$B/kernel/kver")" ] && pass kernel-config-picked ||
	fail kernel-config-picked "guest runs '$(field KVER)', make kernel built '$(cat "$B/kernel/kver")'"
[ "$(field CPUS)" = 2 ] && pass kernel-config-cpus || fail kernel-config-cpus "nproc '$(field CPUS)'"
[ "$(field MODS)" = "0 none" ] && pass kernel-config-no-modules || fail kernel-config-no-modules "modules: '$(field MODS)'"
[ "$(field LINK)" = up ] && [ "$(field HTTP)" = "served to the voidbox kernel" ] && pass kernel-config-net ||
	fail kernel-config-net "link '$(field LINK)', http '$(field HTTP)'"
img=$(sed -n 's/^voidbox run: built \(.*\) in .*/\1/p' "$TMP/err" | head -n 1)
if [ -n "$img" ] && "$VOIDBOX" mkinitramfs --list "$img" >"$TMP/list" 2>&1; then
	! grep -q '\.ko$' "$TMP/list" && pass kernel-config-image-no-ko || fail kernel-config-image-no-ko "$(grep '\.ko$' "$TMP/list" | head -n 3 | tr '\n' ' ')"
else
	fail kernel-config-image-no-ko "no default image named by run --verbose: $(head -n 2 "$TMP/err" | tr '\n' ' ')"
fi
# An ELF kernel qemu cannot boot (no PVH note) is refused with one line.
if [ "$VMM" = qemu ]; then
	python3 - "$K" "$TMP/nonote" <<'EOF'
import struct, sys
b = bytearray(open(sys.argv[1], "rb").read())
phoff, = struct.unpack_from("<Q", b, 32); n, = struct.unpack_from("<H", b, 56)
for i in range(n):
    o = phoff + 56 * i
    if struct.unpack_from("<I", b, o)[0] == 4:  # PT_NOTE -> PT_NULL
        struct.pack_into("<I", b, o, 0)
open(sys.argv[2], "wb").write(b)
EOF
	timeout 60 "$VOIDBOX" run --vmm qemu --kernel "$TMP/nonote" -- true >/dev/null 2>"$TMP/nn.err"; rc=$?
	[ $rc = 125 ] && [ "$(wc -l <"$TMP/nn.err")" = 1 ] && grep -q 'PVH' "$TMP/nn.err" && pass kernel-config-no-pvh-refused ||
		fail kernel-config-no-pvh-refused "rc $rc: $(cat "$TMP/nn.err")"
fi
