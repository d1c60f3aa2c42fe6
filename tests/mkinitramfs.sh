#!/bin/sh
# voidbox mkinitramfs against independent tools: gzip -t, cpio -itv, cpio -id,
# chroot (the copied libraries must be enough for curl to run), and every
# bad input (one line on stderr, non-zero exit, no output file left behind).
. tests/lib.sh
need_guest mkinitramfs || exit 0
need_cmd mkinitramfs cpio || exit 0
K=$GUEST_DIR/vmlinuz
IMG=$TMP/img.gz
MK="$VOIDBOX mkinitramfs"

# 1. the default image, read back by gzip and GNU cpio
start=$(date +%s%N)
if ! $MK --kernel "$K" -o "$IMG" 2>"$TMP/err"; then
	fail mkinitramfs_default "$(cat "$TMP/err")"; exit 0
fi
ms=$(( ($(date +%s%N) - start) / 1000000 ))
echo "# default image: $(stat -c %s "$IMG") bytes in $ms ms" >&2
check mkinitramfs_gzip_t gzip -t "$IMG"
zcat "$IMG" | cpio -itv --quiet >"$TMP/cpio-v" 2>"$TMP/cpio-err"
zcat "$IMG" | cpio -it --quiet >"$TMP/cpio-t" 2>>"$TMP/cpio-err"
$MK --list "$IMG" >"$TMP/ours-t"
if [ -s "$TMP/cpio-err" ]; then fail mkinitramfs_cpio_clean "$(head -n 1 "$TMP/cpio-err")"
else pass mkinitramfs_cpio_clean; fi
check mkinitramfs_list_matches_cpio cmp "$TMP/cpio-t" "$TMP/ours-t"
ok=1; why=""
for want in init bin/voidbox etc/passwd etc/group dev/console dev/null proc sys dev tmp run \
	workspace home/sandbox etc/voidbox/modules.load; do
	grep -qx "$want" "$TMP/cpio-t" || { ok=0; why="$why missing:$want"; }
done
# owners and modes, as GNU cpio reads them (numeric: -n)
zcat "$IMG" | cpio -itvn --quiet >"$TMP/cpio-vn" 2>/dev/null
line() { awk -v n="$1" '$NF==n || $(NF-2)==n' "$TMP/cpio-vn"; }
line workspace | grep -q '^drwxr-xr-x .* 1000 *1000 ' || { ok=0; why="$why workspace:$(line workspace)"; }
line home/sandbox | grep -q '^drwxr-xr-x .* 1000 *1000 ' || { ok=0; why="$why home/sandbox"; }
line tmp | grep -q '^drwxrwxrwt .* 0 *0 ' || { ok=0; why="$why tmp"; }
line dev/console | grep -q '^crw------- .* 5, *1 ' || { ok=0; why="$why console:$(line dev/console)"; }
line dev/null | grep -q '^crw-rw-rw- .* 1, *3 ' || { ok=0; why="$why null"; }
line bin/voidbox | grep -q '^lrwxrwxrwx .*-> /init$' || { ok=0; why="$why bin/voidbox"; }
line init | grep -q '^-rwxr-xr-x .* 0 *0 .* Jan  1  1970 init$' || { ok=0; why="$why init:$(line init)"; }
[ $ok = 1 ] && pass mkinitramfs_contents || fail mkinitramfs_contents "$why"

# 2. extracted by GNU cpio: /init is this binary, users, module order
mkdir "$TMP/x1"
(cd "$TMP/x1" && zcat "$IMG" | cpio -id --quiet 2>/dev/null)
ok=1; why=""
cmp -s "$TMP/x1/init" "$VOIDBOX" || { ok=0; why="$why init!=voidbox"; }
grep -qx 'sandbox:x:1000:1000:sandbox:/home/sandbox:/bin/sh' "$TMP/x1/etc/passwd" || { ok=0; why="$why passwd"; }
grep -qx 'root:x:0:0:root:/root:/bin/sh' "$TMP/x1/etc/passwd" || { ok=0; why="$why passwd-root"; }
grep -qx 'sandbox:x:1000:' "$TMP/x1/etc/group" || { ok=0; why="$why group"; }
order=$(grep -v '^#' "$TMP/x1/etc/voidbox/modules.load" | sed 's,.*/,,; s,\.ko.*,,' | tr '\n' ' ')
pos() { echo "$order" | tr ' ' '\n' | grep -nx "$1" | cut -d: -f1; }
for pair in virtio_ring:virtio virtio:virtio_mmio failover:net_failover net_failover:virtio_net \
	virtio:virtio_net vsock:vmw_vsock_virtio_transport_common \
	vmw_vsock_virtio_transport_common:vmw_vsock_virtio_transport; do
	a=$(pos "${pair%%:*}"); b=$(pos "${pair##*:}")
	[ -n "$a" ] && [ -n "$b" ] && [ "$a" -lt "$b" ] || { ok=0; why="$why order:$pair"; }
done
for m in $(grep -v '^#' "$TMP/x1/etc/voidbox/modules.load"); do
	[ -f "$TMP/x1$m" ] || { ok=0; why="$why nofile:$m"; }
done
[ $ok = 1 ] && pass mkinitramfs_extracted_by_cpio || fail mkinitramfs_extracted_by_cpio "$why ($order)"

# 3. reproducible: same inputs, same bytes; SOURCE_DATE_EPOCH sets mtimes
$MK --kernel "$K" -o "$TMP/img2.gz" 2>/dev/null
check mkinitramfs_reproducible cmp "$IMG" "$TMP/img2.gz"
SOURCE_DATE_EPOCH=1700000000 $MK --kernel "$K" -o "$TMP/img3.gz" 2>/dev/null
SOURCE_DATE_EPOCH=1700000000 $MK --kernel "$K" -o "$TMP/img4.gz" 2>/dev/null
if cmp -s "$TMP/img3.gz" "$TMP/img4.gz" && ! cmp -s "$IMG" "$TMP/img3.gz" &&
	zcat "$TMP/img3.gz" | cpio -itv --quiet 2>/dev/null | grep -q ' Nov 14  2023 init$'; then
	pass mkinitramfs_source_date_epoch
else
	fail mkinitramfs_source_date_epoch "mtime not taken from SOURCE_DATE_EPOCH"
fi

# 4. --list -v, --extract (vs cpio -id), plain cpio at --level 0, stdout
$MK --list "$IMG" -v >"$TMP/ours-v"
if grep -q '^lrwxrwxrwx .* bin/voidbox -> /init$' "$TMP/ours-v" &&
	grep -q '^drwxr-xr-x .* 1000  1000 .* workspace$' "$TMP/ours-v" &&
	[ "$(wc -l <"$TMP/ours-v")" = "$(wc -l <"$TMP/cpio-t")" ]; then
	pass mkinitramfs_list_verbose
else
	fail mkinitramfs_list_verbose "$(head -n 3 "$TMP/ours-v" | tr '\n' '|')"
fi
$MK --extract "$IMG" "$TMP/x2" 2>"$TMP/err"
# diff cannot compare device nodes: those are checked by number
if diff -r --no-dereference -x console -x null "$TMP/x1" "$TMP/x2" >"$TMP/diff" 2>&1 &&
	{ [ "$(id -u)" != 0 ] || [ "$(stat -c '%F %t:%T %a' "$TMP/x2/dev/null")" = "character special file 1:3 666" ]; } &&
	[ "$(stat -c '%u:%g %a' "$TMP/x2/workspace")" = "1000:1000 755" ] &&
	[ "$(stat -c '%a' "$TMP/x2/tmp")" = "1777" ]; then
	pass mkinitramfs_extract
else
	fail mkinitramfs_extract "$(head -n 2 "$TMP/diff" "$TMP/err" | tr '\n' '|')"
fi
$MK --kernel "$K" --level 0 -o - >"$TMP/plain.cpio" 2>"$TMP/err"
if [ -s "$TMP/plain.cpio" ] && ! gzip -t "$TMP/plain.cpio" 2>/dev/null &&
	cpio -it --quiet <"$TMP/plain.cpio" 2>/dev/null | cmp -s - "$TMP/cpio-t" &&
	$MK --list "$TMP/plain.cpio" | cmp -s - "$TMP/cpio-t" &&
	zcat "$IMG" | cmp -s - "$TMP/plain.cpio"; then
	pass mkinitramfs_level0_stdout
else
	fail mkinitramfs_level0_stdout "plain cpio differs from the gunzipped image $(cat "$TMP/err")"
fi
$MK --kernel "$K" --level 1 -o "$TMP/l1.gz" && $MK --kernel "$K" --level 9 -o "$TMP/l9.gz"
if [ "$(stat -c %s "$TMP/l1.gz")" -gt "$(stat -c %s "$TMP/l9.gz")" ] &&
	zcat "$TMP/l1.gz" | cmp -s - "$TMP/plain.cpio"; then
	pass mkinitramfs_levels
else
	fail mkinitramfs_levels "level 1 not larger than level 9, or different contents"
fi

# GNU cpio's crc format (070702) and stdin
(cd "$TMP/x1" && find . | LC_ALL=C sort | cpio -o -H crc --quiet >"$TMP/crc.cpio" 2>/dev/null)
(cd "$TMP/x1" && find . | LC_ALL=C sort | cpio -o -H newc --quiet >"$TMP/newc.cpio" 2>/dev/null)
if $MK --list - <"$TMP/crc.cpio" >"$TMP/crc-t" 2>"$TMP/err" &&
	$MK --list "$TMP/newc.cpio" | cmp -s - "$TMP/crc-t" && [ -s "$TMP/crc-t" ] &&
	$MK --extract - "$TMP/x6" <"$TMP/crc.cpio" 2>>"$TMP/err" && cmp -s "$TMP/x6/init" "$VOIDBOX"; then
	pass mkinitramfs_list_crc_stdin
else
	fail mkinitramfs_list_crc_stdin "$(cat "$TMP/err")"
fi
rm -rf "$TMP/x6"

# hard links as GNU cpio writes them (data with the last link only)
mkdir -p "$TMP/hl/d" && echo shared >"$TMP/hl/a" && ln "$TMP/hl/a" "$TMP/hl/d/b" && ln "$TMP/hl/a" "$TMP/hl/c"
(cd "$TMP/hl" && find . | LC_ALL=C sort | cpio -o -H newc --quiet >"$TMP/hl.cpio" 2>/dev/null)
if $MK --extract "$TMP/hl.cpio" "$TMP/hlx" 2>"$TMP/err" && [ "$(cat "$TMP/hlx/a")" = shared ] &&
	[ "$(cat "$TMP/hlx/d/b")" = shared ] && [ "$(stat -c %i "$TMP/hlx/a")" = "$(stat -c %i "$TMP/hlx/c")" ] &&
	[ "$(stat -c %h "$TMP/hlx/a")" = 3 ]; then
	pass mkinitramfs_extract_hardlinks
else
	fail mkinitramfs_extract_hardlinks "$(cat "$TMP/err") a=$(cat "$TMP/hlx/a" 2>&1) links=$(stat -c %h "$TMP/hlx/a" 2>&1)"
fi

# early-cpio style: a plain archive, then a gzip one; then junk after an archive
cat "$TMP/plain.cpio" "$IMG" >"$TMP/concat.img"
n1=$(wc -l <"$TMP/cpio-t")
n2=$($MK --list "$TMP/concat.img" 2>"$TMP/err" | wc -l)
{ cat "$TMP/plain.cpio"; echo junk; } >"$TMP/junk.img"
if [ "$n2" = $((n1 * 2)) ] && ! $MK --list "$TMP/junk.img" >/dev/null 2>"$TMP/err2" &&
	grep -q "neither cpio nor gzip" "$TMP/err2"; then
	pass mkinitramfs_list_concatenated
else
	fail mkinitramfs_list_concatenated "$n2 entries for 2x$n1: $(cat "$TMP/err" "$TMP/err2")"
fi

# 5. --add-binary curl, --busybox, --add, --module, --kver/--modules-dir; run in a chroot
printf 'hello\n' >"$TMP/hello.txt"
mkdir -p "$TMP/tree/sub" && echo deep >"$TMP/tree/sub/f" && ln -s sub/f "$TMP/tree/link"
$MK --kver "$(cat "$GUEST_DIR/kver")" --modules-dir "$GUEST_DIR/modules" --module 9pnet_virtio \
	--add-binary curl --busybox "$GUEST_DIR/busybox" \
	--add "$TMP/hello.txt:/etc/hello:0600" --add "$TMP/hello.txt:/opt/" --add "$TMP/tree:/srv/t" \
	-o "$TMP/full.gz" 2>"$TMP/err" || fail mkinitramfs_full "$(cat "$TMP/err")"
mkdir "$TMP/x3"
(cd "$TMP/x3" && zcat "$TMP/full.gz" | cpio -id --quiet 2>/dev/null)
ok=1; why=""
[ "$(stat -c %a "$TMP/x3/etc/hello")" = 600 ] && cmp -s "$TMP/x3/etc/hello" "$TMP/hello.txt" || { ok=0; why="$why add-mode"; }
[ -f "$TMP/x3/opt/hello.txt" ] || { ok=0; why="$why add-dir/"; }
[ "$(cat "$TMP/x3/srv/t/sub/f")" = deep ] && [ "$(readlink "$TMP/x3/srv/t/link")" = sub/f ] || { ok=0; why="$why add-tree"; }
grep -q '9pnet_virtio.ko$' "$TMP/x3/etc/voidbox/modules.load" && grep -q '/9pnet.ko$' "$TMP/x3/etc/voidbox/modules.load" || { ok=0; why="$why module"; }
[ "$(readlink "$TMP/x3/bin/sh")" = /bin/busybox ] && [ "$(readlink "$TMP/x3/usr/bin/wget")" = /bin/busybox ] || { ok=0; why="$why busybox-links"; }
[ $ok = 1 ] && pass mkinitramfs_add_module_busybox || fail mkinitramfs_add_module_busybox "$why"
if [ "$(id -u)" = 0 ]; then
	out=$(chroot "$TMP/x3" /usr/bin/curl --version 2>&1 | head -n 1)
	case "$out" in curl\ *) pass mkinitramfs_curl_runs_in_chroot ;;
		*) fail mkinitramfs_curl_runs_in_chroot "$out" ;; esac
	out=$(chroot "$TMP/x3" /bin/sh -c 'echo $((6*7))' 2>&1)
	[ "$out" = 42 ] && pass mkinitramfs_busybox_runs_in_chroot || fail mkinitramfs_busybox_runs_in_chroot "$out"
	# python3: the program by --add-binary, its standard library by --add DIR
	stdlib=$(/usr/bin/python3 -c 'import sysconfig; print(sysconfig.get_path("stdlib"))' 2>/dev/null)
	if [ -x /usr/bin/python3 ] && [ -d "$stdlib" ]; then
		$MK --no-modules --level 1 --add-binary /usr/bin/python3 --add "$stdlib:$stdlib" \
			-o "$TMP/py.gz" 2>"$TMP/err" && $MK --extract "$TMP/py.gz" "$TMP/x4" 2>>"$TMP/err"
		out=$(chroot "$TMP/x4" /usr/bin/python3 -c 'import json; print(json.dumps([6*7]))' 2>&1)
		[ "$out" = "[42]" ] && pass mkinitramfs_python3_runs_in_chroot ||
			fail mkinitramfs_python3_runs_in_chroot "$out $(cat "$TMP/err")"
		rm -rf "$TMP/x4" "$TMP/py.gz"
	else
		skip mkinitramfs_python3_runs_in_chroot "no /usr/bin/python3 with its standard library"
	fi
else
	skip mkinitramfs_curl_runs_in_chroot "chroot needs root"
	skip mkinitramfs_busybox_runs_in_chroot "chroot needs root"
	skip mkinitramfs_python3_runs_in_chroot "chroot needs root"
fi

# 5b. xz-compressed modules with a modules.dep written by kmod's depmod:
# stored as they are, listed in depmod's dependency order
if command -v depmod >/dev/null && command -v xz >/dev/null; then
	kv=$(cat "$GUEST_DIR/kver")
	R=$TMP/kroot; M=$R/lib/modules/$kv
	for m in $(grep -v '^#' "$TMP/x1/etc/voidbox/modules.load"); do
		rel=${m#/lib/modules/$kv/}
		mkdir -p "$M/$(dirname "$rel")" && cp "$GUEST_DIR/modules/$kv/$rel" "$M/$rel" && xz "$M/$rel"
	done
	cp "$GUEST_DIR/modules/$kv/modules.builtin" "$GUEST_DIR/modules/$kv/modules.order" "$M/" 2>/dev/null
	if depmod -b "$R" "$kv" 2>"$TMP/err" && [ -s "$M/modules.dep" ]; then
		$MK --kver "$kv" --modules-dir "$R/lib/modules" -o "$TMP/xz.gz" 2>"$TMP/err"
		got=$($MK --list "$TMP/xz.gz" | grep -c '\.ko\.xz$')
		mkdir "$TMP/x5" && (cd "$TMP/x5" && zcat "$TMP/xz.gz" | cpio -id --quiet 2>/dev/null)
		order=$(grep -v '^#' "$TMP/x5/etc/voidbox/modules.load" | sed 's,.*/,,; s,\.ko.*,,' | tr '\n' ' ')
		# every module comes after everything depmod says it needs
		ok=1
		while IFS=: read -r mod deps; do
			mn=$(basename "$mod" | sed 's,\.ko.*,,')
			pm=$(echo "$order" | tr ' ' '\n' | grep -nx "$mn" | cut -d: -f1)
			for d in $deps; do
				dn=$(basename "$d" | sed 's,\.ko.*,,')
				pd=$(echo "$order" | tr ' ' '\n' | grep -nx "$dn" | cut -d: -f1)
				[ -n "$pm" ] && [ -n "$pd" ] && [ "$pd" -lt "$pm" ] || ok=0
			done
		done <"$M/modules.dep"
		if [ "$got" = 9 ] && [ $ok = 1 ] && cmp -s "$TMP/x5/lib/modules/$kv/kernel/drivers/virtio/virtio.ko.xz" \
			"$M/kernel/drivers/virtio/virtio.ko.xz"; then
			pass mkinitramfs_xz_modules_depmod_order
		else
			fail mkinitramfs_xz_modules_depmod_order "$got .ko.xz, order ok=$ok: $order $(cat "$TMP/err")"
		fi
	else
		skip mkinitramfs_xz_modules_depmod_order "depmod failed: $(head -n 1 "$TMP/err")"
	fi
else
	skip mkinitramfs_xz_modules_depmod_order "no depmod or xz (run make deps)"
fi

# 6. bad input: one line on stderr, non-zero exit, no output or temporary file
# bad NAME PATTERN EXPECTED_RC ARGS...
bad() {
	_n=$1 _pat=$2 _rc=$3; shift 3
	rm -rf "$TMP/o"; mkdir "$TMP/o"
	$MK "$@" >"$TMP/o.out" 2>"$TMP/o.err"; _got=$?
	_lines=$(wc -l <"$TMP/o.err")
	if [ "$_got" != "$_rc" ]; then fail "$_n" "exit $_got, want $_rc: $(head -n 1 "$TMP/o.err")"
	elif [ "$_lines" != 1 ]; then fail "$_n" "$_lines lines on stderr: $(tr '\n' '|' <"$TMP/o.err")"
	elif ! grep -q -- "$_pat" "$TMP/o.err"; then fail "$_n" "message lacks '$_pat': $(cat "$TMP/o.err")"
	elif [ -n "$(ls -A "$TMP/o")" ]; then fail "$_n" "left files: $(ls -A "$TMP/o")"
	else pass "$_n"; fi
}
O=$TMP/o/img.gz
bad mkinitramfs_bad_missing_module "module no_such_mod: not found" 1 --kernel "$K" --module no_such_mod -o "$O"
bad mkinitramfs_bad_not_bzimage "not a usable bzImage" 1 --kernel /etc/passwd -o "$O"
bad mkinitramfs_bad_kernel_missing "No such file" 1 --kernel "$TMP/nokernel" -o "$O"
bad mkinitramfs_bad_add_missing "$TMP/nofile" 1 --kernel "$K" --add "$TMP/nofile:/x" -o "$O"
bad mkinitramfs_bad_add_syntax "want SRC:DST" 2 --kernel "$K" --add "$TMP/hello.txt" -o "$O"
bad mkinitramfs_bad_add_relative "absolute" 2 --kernel "$K" --add "$TMP/hello.txt:rel" -o "$O"
bad mkinitramfs_bad_add_mode "octal" 2 --kernel "$K" --add "$TMP/hello.txt:/x:9z" -o "$O"
bad mkinitramfs_bad_binary_dir "Is a directory" 1 --kernel "$K" --add-binary /usr -o "$O"
bad mkinitramfs_bad_binary_relative "absolute path or a program name" 1 --kernel "$K" --add-binary ./curl -o "$O"
bad mkinitramfs_bad_binary_not_in_path "not found in" 1 --kernel "$K" --add-binary no-such-prog-xyz -o "$O"
bad mkinitramfs_bad_busybox "busybox.*not an ELF" 1 --kernel "$K" --busybox /etc/passwd -o "$O"
bad mkinitramfs_bad_modules_dir "modules directory" 1 --kernel "$K" --modules-dir "$TMP/nomods" -o "$O"
bad mkinitramfs_bad_kver "no modules for kernel 0.0-none" 1 --kver 0.0-none -o "$O"
bad mkinitramfs_bad_kver_mismatch "but --kver says" 1 --kernel "$K" --kver 1.2.3 -o "$O"
bad mkinitramfs_bad_level "--level .10.: expected a number from 0 to 9" 2 --kernel "$K" --level 10 -o "$O"
bad mkinitramfs_bad_no_output "no output" 2 --kernel "$K"
bad mkinitramfs_bad_no_kernel "no kernel" 2 -o "$O"
bad mkinitramfs_bad_option "unknown option --frobnicate" 2 --frobnicate
bad mkinitramfs_bad_output_dir "$TMP/o/nodir" 1 --kernel "$K" -o "$TMP/o/nodir/img"
rm -rf "$TMP/o"; mkdir "$TMP/o"
SOURCE_DATE_EPOCH=yesterday $MK --kernel "$K" -o "$O" 2>"$TMP/o.err"
[ $? = 1 ] && grep -q SOURCE_DATE_EPOCH "$TMP/o.err" && [ ! -e "$O" ] && pass mkinitramfs_bad_sde ||
	fail mkinitramfs_bad_sde "$(cat "$TMP/o.err")"
# corrupt images for --list and --extract
head -c 5000 /dev/urandom >"$TMP/random.bin"
bad mkinitramfs_bad_list_random "not a valid cpio archive" 1 --list "$TMP/random.bin"
head -c 20000 "$IMG" >"$TMP/trunc.gz"
bad mkinitramfs_bad_list_truncated_gz "truncated" 1 --list "$TMP/trunc.gz"
head -c 3000 "$TMP/plain.cpio" >"$TMP/trunc.cpio"
bad mkinitramfs_bad_list_truncated_cpio "truncated" 1 --list "$TMP/trunc.cpio"
cp "$IMG" "$TMP/flip.gz"; printf '\377\377\377\377' | dd of="$TMP/flip.gz" bs=1 seek=5000 conv=notrunc 2>/dev/null
bad mkinitramfs_bad_list_corrupt_gz "corrupt" 1 --list "$TMP/flip.gz"
bad mkinitramfs_bad_list_missing "No such file" 1 --list "$TMP/none.gz"
# archives whose names escape the target directory (built with python3)
mkcpio() { # OUT then name:type[:target] ...
	python3 - "$@" <<'PY'
import sys
out = sys.argv[1]
buf = b""
ino = 1
for spec in sys.argv[2:] + ["TRAILER!!!:f"]:
    name, kind, *rest = spec.split(":")
    data = (rest[0].encode() if rest else b"x")
    mode = {"f": 0o100644, "l": 0o120777, "d": 0o40755}[kind]
    if kind == "d" or name == "TRAILER!!!": data = b""
    n = name.encode() + b"\0"
    hdr = b"070701" + b"".join(b"%08X" % v for v in (ino, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(n), 0))
    buf += hdr + n
    buf += b"\0" * (-len(buf) % 4) + data
    buf += b"\0" * (-len(buf) % 4)
    ino += 1
open(out, "wb").write(buf)
PY
}
mkcpio "$TMP/esc1.cpio" ok:f ../evil:f
mkcpio "$TMP/esc2.cpio" /abs-evil:f
mkcpio "$TMP/esc3.cpio" d:d d/../../evil:f
mkcpio "$TMP/esc4.cpio" link:l:"$TMP/outside" link/evil:f
mkdir -p "$TMP/outside"
for i in 1 2 3; do
	rm -rf "$TMP/ex"
	bad mkinitramfs_extract_refuses_escape_$i "outside" 1 --extract "$TMP/esc$i.cpio" "$TMP/ex"
	[ -e "$TMP/ex/ok" ] || [ -e "$TMP/evil" ] || [ -e /abs-evil ] &&
		fail mkinitramfs_extract_wrote_nothing_$i "an entry was written" ||
		pass mkinitramfs_extract_wrote_nothing_$i
done
rm -rf "$TMP/ex"
bad mkinitramfs_extract_refuses_symlink_escape "symlink" 1 --extract "$TMP/esc4.cpio" "$TMP/ex"
[ -e "$TMP/outside/evil" ] && fail mkinitramfs_extract_symlink_nothing_outside "wrote through the link" ||
	pass mkinitramfs_extract_symlink_nothing_outside

# 7. the multicall link and --help
out=$("$B/mkinitramfs" --help) && echo "$out" | grep -q -- '--add-binary' &&
	pass mkinitramfs_link_help || fail mkinitramfs_link_help "no usage through the link"
