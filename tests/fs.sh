#!/bin/sh
# Shared folders end to end (`voidbox run -v`, `--rootfs`): Debian's kernel
# under qemu TCG, our virtio-fs back end served over vhost-user. Three boots
# serve every check:
#  (A) -v RW:/workspace and -v RO:/in:ro with a control socket, commands
#      through --attach: the README's `ls; echo hi > out`, busybox tar
#      extracting a tree whose every file's sha256 the host then checks, sh
#      scripts writing many files, rename over an open file, two appending
#      processes, fsync, -w inside a share, EROFS for every kind of write to
#      :ro (also after root remounts it read-write in the guest), and the
#      escapes (symlink to /, .., hard link to a host file outside) failing
#      in the guest and leaving the host untouched;
#  (B) as an unprivileged user when the test runs as root: --rootfs of a
#      small distribution tree (busybox, GNU make and its libraries) with a
#      tmpfs overlay, a make -j2 build in a -v share; files appear on the
#      host owned by the user who ran voidbox, the tree itself unchanged;
#  (C) --rootfs DIR:rw: the guest's writes land in DIR.
# Plus option errors and the KVM monitor's view (--dump-boot), no boot.
. tests/lib.sh
need_guest fs || exit 0
need_cmd fs qemu-system-x86_64 || exit 0
V=$VOIDBOX
T=${VOIDBOX_VM_TIMEOUT:-180}
export XDG_CACHE_HOME=$TMP/cache
ME=$(id -u)

# --- no boot: bad options, the KVM monitor's device windows ---
bad() { # name args...: exit 125 with one line on stderr
	_n=$1; shift
	timeout 60 "$V" run --vmm "$VMM" "$@" -- true >"$TMP/bo" 2>"$TMP/be"; _r=$?
	if [ $_r = 125 ] && [ "$(wc -l <"$TMP/be")" = 1 ] && [ ! -s "$TMP/bo" ]; then pass "fs-bad-$_n"
	else fail "fs-bad-$_n" "rc $_r: $(head -c 300 "$TMP/be")"; fi
}
mkdir -p "$TMP/share" "$TMP/ro" "$TMP/outside"
bad no-guest -v "$TMP/share"
bad relative-guest -v "$TMP/share:data"
bad guest-root -v "$TMP/share:/"
bad guest-proc -v "$TMP/share:/proc/x"
bad dotdot -v "$TMP/share:/a/../b"
bad twice -v "$TMP/share:/d" -v "$TMP/ro:/d"
bad seven -v "$TMP/share:/1" -v "$TMP/share:/2" -v "$TMP/share:/3" -v "$TMP/share:/4" \
	-v "$TMP/share:/5" -v "$TMP/share:/6" -v "$TMP/share:/7"
bad missing-host -v "$TMP/nonexistent:/data"
bad host-file -v /etc/passwd:/data
out=$(timeout 60 "$V" run --attach unix:/nonexistent -v "$TMP/share:/d" -- true 2>&1); rc=$?
[ $rc = 125 ] && echo "$out" | grep -q -- "--volume: only for a new VM" && pass fs-bad-with-attach ||
	fail fs-bad-with-attach "rc $rc: $out"
out=$("$V" run --help 2>&1)
echo "$out" | grep -q -- "-v, --volume HOST:GUEST" && echo "$out" | grep -q -- "      --verbose" &&
	! echo "$out" | grep -q -- "-v, --verbose" && pass fs-usage || fail fs-usage "run --help lacks -v/--volume or --verbose"
if timeout 60 "$V" run --dump-boot "$TMP/dump" -v "$TMP/share:/a" -v "$TMP/ro:/b:ro" -- true 2>"$TMP/de"; then
	n=$(grep -c '^virtio-mmio ' "$TMP/dump/layout.txt")
	h=$(grep -c LNRO0005 "$TMP/dump/DSDT.dat")
	grep -q 'voidbox.fs.0=vbfs0,rw,/a voidbox.fs.1=vbfs1,ro,/b' "$TMP/dump/cmdline.txt" && [ "$n" = 4 ] &&
		[ "$h" = 4 ] && pass fs-dump-boot-windows ||
		fail fs-dump-boot-windows "$n windows, $h in the DSDT, cmdline $(cat "$TMP/dump/cmdline.txt")"
else
	fail fs-dump-boot-windows "$(cat "$TMP/de")"
fi

# --- boot A: a read-write and a read-only share ---
# the tree tar extracts: nested folders, sizes from 0 to 3 MB, a symlink
mkdir -p "$TMP/src/a/b/c" "$TMP/src/empty"
for i in $(seq 0 40); do head -c $((i * i * 97)) /dev/urandom >"$TMP/src/a/f$i"; done
head -c 3000000 /dev/urandom >"$TMP/src/a/b/big"
echo deep >"$TMP/src/a/b/c/deep"
ln -s ../f1 "$TMP/src/a/b/link"
tar -C "$TMP/src" -cf "$TMP/ro/tree.tar" .
echo read-only >"$TMP/ro/file"
mkdir "$TMP/ro/dir"
echo secret >"$TMP/outside/secret"
chmod 600 "$TMP/outside/secret"
snapshot() { (cd "$1" && find . -printf '%p %m %s %n %l\n' | sort && find . -type f -exec sha256sum {} + | sort); }
snapshot "$TMP/ro" >"$TMP/ro.before"
snapshot "$TMP/outside" >"$TMP/outside.before"

C=$TMP/ctl.sock
timeout $T "$V" run --vmm "$VMM" --control "$C" -v "$TMP/share:/workspace" -v "$TMP/ro:/in:ro" -- sh -c \
	'echo up; while [ ! -e /tmp/stop ]; do sleep 0.1; done' >"$TMP/a.out" 2>"$TMP/a.err" &
AP=$!
for _ in $(seq $((T * 10))); do grep -q '^up' "$TMP/a.out" 2>/dev/null && break; kill -0 $AP 2>/dev/null || break; sleep 0.1; done
if ! grep -q '^up' "$TMP/a.out"; then
	fail fs-boot "no output from the guest: $(tail -n 5 "$TMP/a.err" | tr '\n' '|')"
	kill $AP 2>/dev/null; wait $AP; exit 0
fi
pass fs-boot
X() { timeout 120 "$V" run --attach "vsock:$C" "$@"; }

# the README's command: `out` in the host folder, owned by who ran voidbox
X -- sh -c 'ls; echo hi > out' >"$TMP/x.out" 2>&1; rc=$?
[ $rc = 0 ] && [ "$(cat "$TMP/share/out" 2>/dev/null)" = hi ] && [ "$(stat -c %u:%g "$TMP/share/out")" = "$ME:$(id -g)" ] &&
	pass fs-workspace-out-owner || fail fs-workspace-out-owner "rc $rc, out '$(cat "$TMP/share/out" 2>&1)' owned by $(stat -c %u "$TMP/share/out" 2>&1), $(cat "$TMP/x.out")"
out=$(X -- sh -c 'echo "$(id -u) $(stat -c %u:%g /workspace /workspace/out | tr "\n" " ")$(pwd)"')
[ "$out" = "1000 1000:1000 1000:1000 /workspace" ] && pass fs-guest-sees-sandbox-owner || fail fs-guest-sees-sandbox-owner "got '$out'"

# busybox tar extracts the tree; the host checks every file
X -- sh -c 'mkdir t && tar -xf /in/tree.tar -C t' >"$TMP/x.out" 2>&1; rc=$?
(cd "$TMP/src" && find . -type f -exec sha256sum {} + | sort) >"$TMP/want.sum"
(cd "$TMP/share/t" && find . -type f -exec sha256sum {} + | sort) >"$TMP/got.sum" 2>/dev/null
[ $rc = 0 ] && [ "$(wc -l <"$TMP/want.sum")" = 43 ] && cmp -s "$TMP/want.sum" "$TMP/got.sum" &&
	[ "$(readlink "$TMP/share/t/a/b/link")" = ../f1 ] && [ -d "$TMP/share/t/empty" ] && pass fs-tar-extract-sha256 ||
	fail fs-tar-extract-sha256 "rc $rc, $(diff "$TMP/want.sum" "$TMP/got.sum" | head -n 3 | tr '\n' '|') $(cat "$TMP/x.out")"

# sh scripts writing into the share: many files, then one built from them
X -w /workspace/gen -- sh -c '
	for i in $(seq 1 300); do echo "part $i $(seq $i | tr "\n" " ")" > p$i.txt; done
	for i in $(seq 1 300); do cat p$i.txt; done > all.txt && sha256sum all.txt | cut -d" " -f1 > all.sum
	pwd' >"$TMP/x.out" 2>&1; rc=$?
want=$(for i in $(seq 1 300); do echo "part $i $(seq $i | tr '\n' ' ')"; done | sha256sum | cut -d' ' -f1)
[ $rc = 0 ] && [ "$(cat "$TMP/x.out")" = /workspace/gen ] && [ "$(cat "$TMP/share/gen/all.sum")" = "$want" ] &&
	[ "$(sha256sum <"$TMP/share/gen/all.txt" | cut -d' ' -f1)" = "$want" ] &&
	[ "$(ls "$TMP/share/gen" | wc -l)" = 302 ] && pass fs-sh-scripts-workdir ||
	fail fs-sh-scripts-workdir "rc $rc: $(head -c 200 "$TMP/x.out")"

# rename over an open file: the reader keeps the old bytes, new opens see the new
out=$(X -- sh -c 'echo old > r; exec 3<r; echo new > r.tmp; mv r.tmp r; cat <&3; cat r')
[ "$out" = "old
new" ] && [ "$(cat "$TMP/share/r")" = new ] && [ ! -e "$TMP/share/r.tmp" ] && pass fs-rename-over-open-file ||
	fail fs-rename-over-open-file "got '$out'"

# two processes appending: every line arrives once
X -- sh -c '(for i in $(seq 500); do echo a$i >> log; done) & (for i in $(seq 500); do echo b$i >> log; done) & wait'
[ "$(wc -l <"$TMP/share/log")" = 1000 ] && [ "$(sort -u "$TMP/share/log" | wc -l)" = 1000 ] &&
	[ "$(grep -c '^a' "$TMP/share/log")" = 500 ] && pass fs-append-two-processes ||
	fail fs-append-two-processes "$(wc -l <"$TMP/share/log") lines, $(sort -u "$TMP/share/log" | wc -l) distinct"

# fsync: dd's conv=fsync and sync FILE succeed; the bytes are on the host
out=$(X -- sh -c 'dd if=/dev/urandom of=s bs=65536 count=16 conv=fsync 2>/dev/null && sync s && sha256sum s | cut -d" " -f1')
[ -n "$out" ] && [ "$out" = "$(sha256sum <"$TMP/share/s" | cut -d' ' -f1)" ] && pass fs-fsync ||
	fail fs-fsync "guest '$out', host $(sha256sum <"$TMP/share/s" 2>&1)"

# :ro refuses every kind of write with EROFS: in the guest's mount ...
ro_writes='n=0; for c in "echo x > /in/new" "echo x >> /in/file" "rm /in/file" "mkdir /in/d2" "rmdir /in/dir" \
	"touch /in/file" "mv /in/file /in/f2" "ln /in/file /in/h" "ln -s x /in/l" "chmod 777 /in/file" \
	"truncate -s 0 /in/file" "mkfifo /in/p" "cp /in/file /in/dir/"; do
	if sh -c "$c" 2>/tmp/e; then echo "WROTE: $c"; elif grep -q "Read-only file system" /tmp/e; then n=$((n+1)); else echo "OTHER: $c: $(cat /tmp/e)"; fi
done; echo "erofs $n"'
out=$(X -- sh -c "$ro_writes" 2>&1)
[ "$out" = "erofs 13" ] && pass fs-ro-erofs-guest || fail fs-ro-erofs-guest "$(echo "$out" | tr '\n' '|')"
# ... and on the host, when root inside makes the mount read-write
out=$(X -u root -- sh -c "mount -o remount,rw /in && grep ' /in ' /proc/mounts | cut -d' ' -f4 | cut -d, -f1 && $ro_writes" 2>&1)
[ "$out" = "rw
erofs 13" ] && pass fs-ro-erofs-host || fail fs-ro-erofs-host "$(echo "$out" | tr '\n' '|')"
snapshot "$TMP/ro" >"$TMP/ro.after"
cmp -s "$TMP/ro.before" "$TMP/ro.after" && pass fs-ro-host-unchanged ||
	fail fs-ro-host-unchanged "$(diff "$TMP/ro.before" "$TMP/ro.after" | head -n 4 | tr '\n' '|')"

# escapes: each must fail in the guest
esc='cd /workspace; n=0; for c in "ln -s / root && cat root$O/secret" "cat /workspace/../outside/secret" \
	"ln -s ../outside/secret up && cat up" "echo pwned > up" "ln -s $O/secret abs && echo pwned > abs" \
	"ln $O/secret hard" "ln /etc/passwd hard2" "cd /workspace/.. && cat outside/secret"; do
	if sh -c "$c" >/dev/null 2>&1; then echo "ESCAPED: $c"; else n=$((n+1)); fi
done; echo "refused $n"; readlink root; ls root/ | grep -c "^etc$"'
out=$(X -e O="$TMP/outside" -- sh -c "$esc" 2>&1)
[ "$out" = "refused 8
/
1" ] && pass fs-escapes-refused || fail fs-escapes-refused "$(echo "$out" | tr '\n' '|')"
out=$(X -u root -e O="$TMP/outside" -- sh -c "$esc" 2>&1)
[ "$(echo "$out" | head -n 1)" = "refused 8" ] && pass fs-escapes-as-root || fail fs-escapes-as-root "$(echo "$out" | tr '\n' '|')"
snapshot "$TMP/outside" >"$TMP/outside.after"
cmp -s "$TMP/outside.before" "$TMP/outside.after" && [ "$(cat "$TMP/outside/secret")" = secret ] &&
	[ "$(ls "$TMP" | grep -c pwned)" = 0 ] && pass fs-escapes-host-untouched ||
	fail fs-escapes-host-untouched "$(diff "$TMP/outside.before" "$TMP/outside.after" | head -n 4 | tr '\n' '|')"
[ "$(readlink "$TMP/share/root")" = / ] && [ "$(readlink "$TMP/share/up")" = ../outside/secret ] &&
	pass fs-guest-symlinks-stored-as-written || fail fs-guest-symlinks-stored-as-written "$(ls -l "$TMP/share" | head -n 5)"

X -- touch /tmp/stop
wait $AP; rc=$?
[ $rc = 0 ] && pass fs-boot-a-exit || fail fs-boot-a-exit "rc $rc: $(tail -n 3 "$TMP/a.err" | tr '\n' '|')"

# --- boot B: a distribution tree as the root, a make build in a share, as
# an unprivileged user ---
R=$TMP/tree
mkdir -p "$R/bin" "$R/etc" "$R/usr/bin" "$R/root"
cp "$GUEST_DIR/busybox" "$R/bin/busybox"
for a in sh ls cat echo id stat sha256sum mkdir touch rm sed mount grep wc tr cut sort seq; do ln -s busybox "$R/bin/$a"; done
echo "root:x:0:0:root:/root:/bin/sh" >"$R/etc/passwd"
echo 'NAME="voidbox test tree"' >"$R/etc/os-release"
MAKE=$(command -v make)
if [ -n "$MAKE" ]; then
	cp "$MAKE" "$R/usr/bin/make"
	for l in $(ldd "$MAKE" | grep -o '/[^ ]*'); do mkdir -p "$R${l%/*}"; cp -L "$l" "$R$l"; done
fi
W=$TMP/work
mkdir -p "$W/src"
for i in $(seq 1 40); do printf 'int f%d(void) { return %d; }\n' "$i" "$i" >"$W/src/m$i.c"; done
cat >"$W/Makefile" <<'EOF'
SRCS := $(wildcard src/*.c)
OBJS := $(SRCS:src/%.c=obj/%.o)
out/app.sum: out/app
	sha256sum out/app > $@
out/app: $(OBJS) | out
	cat $(OBJS) > $@
obj/%.o: src/%.c | obj
	sed 's/^/compiled: /' $< > $@
obj out:
	mkdir -p $@
EOF
chmod -R a+rX "$R" "$W"
snapshot "$R" >"$TMP/tree.before"
RUNAS=
BC=$TMP/cache
if [ "$ME" = 0 ] && command -v setpriv >/dev/null; then
	RUNAS="setpriv --reuid=65534 --regid=65534 --clear-groups"
	chown -R 65534:65534 "$W"
	BC=$TMP/nobody-cache
	mkdir -p "$BC" && chown 65534:65534 "$BC"
	chmod 755 "$TMP"
fi
B_CMD='cat /etc/os-release; id -u; stat -c %u:%g /work /work/Makefile; echo root-write > /root/x 2>/dev/null || echo root-denied
	cd /work && make -j2 >/dev/null && make -q && echo up-to-date && ls obj | wc -l'
if [ -n "$MAKE" ]; then
	XDG_CACHE_HOME=$BC $RUNAS timeout $T "$V" run --vmm "$VMM" --rootfs "$R" -v "$W:/work" -- \
		sh -c "$B_CMD" >"$TMP/b.out" 2>"$TMP/b.err"; rc=$?
	want_owner=$ME; [ -n "$RUNAS" ] && want_owner=65534
	want=$(for i in $(seq 1 40); do printf 'compiled: int f%d(void) { return %d; }\n' "$i" "$i"; done | sort | sha256sum | cut -d' ' -f1)
	got=$(sort "$W/out/app" 2>/dev/null | sha256sum | cut -d' ' -f1)
	[ $rc = 0 ] && [ "$(sed -n 1p "$TMP/b.out")" = 'NAME="voidbox test tree"' ] && [ "$(sed -n 2p "$TMP/b.out")" = 1000 ] &&
		pass fs-rootfs-boots || fail fs-rootfs-boots "rc $rc: $(head -n 3 "$TMP/b.out" | tr '\n' '|') $(tail -n 3 "$TMP/b.err" | tr '\n' '|')"
	[ "$(sed -n 3,4p "$TMP/b.out" | tr '\n' ' ')" = "1000:1000 1000:1000 " ] && pass fs-volume-owner-mapped ||
		fail fs-volume-owner-mapped "$(sed -n 3,4p "$TMP/b.out" | tr '\n' ' ')"
	grep -q '^up-to-date$' "$TMP/b.out" && [ "$(tail -n 1 "$TMP/b.out")" = 40 ] && [ "$got" = "$want" ] &&
		[ "$(cut -d' ' -f1 "$W/out/app.sum")" = "$(sha256sum <"$W/out/app" | cut -d' ' -f1)" ] &&
		pass fs-make-build || fail fs-make-build "$(tail -n 3 "$TMP/b.out" | tr '\n' '|') $(tail -n 3 "$TMP/b.err" | tr '\n' '|')"
	[ "$(stat -c %u "$W/out/app")" = "$want_owner" ] && [ "$(find "$W" ! -user "$want_owner" | wc -l)" = 0 ] &&
		pass "fs-files-owned-by-caller${RUNAS:+-unprivileged}" ||
		fail "fs-files-owned-by-caller${RUNAS:+-unprivileged}" "$(find "$W" ! -user "$want_owner" | head -n 3)"
	snapshot "$R" >"$TMP/tree.after"
	grep -q root-denied "$TMP/b.out" && cmp -s "$TMP/tree.before" "$TMP/tree.after" && pass fs-rootfs-overlay-host-unchanged ||
		fail fs-rootfs-overlay-host-unchanged "$(diff "$TMP/tree.before" "$TMP/tree.after" | head -n 3 | tr '\n' '|')"
else
	skip fs-rootfs-make "make not installed on the host"
fi

# --- boot C: --rootfs DIR:rw, written directly ---
chown -R "$ME" "$R" 2>/dev/null
timeout $T "$V" run --vmm "$VMM" --rootfs "$R:rw" -u root -- sh -c 'echo from-guest > /made-in-guest; mkdir -p /var/lib/x; grep -c " / virtiofs rw" /proc/mounts' \
	>"$TMP/c.out" 2>"$TMP/c.err"; rc=$?
[ $rc = 0 ] && [ "$(cat "$R/made-in-guest" 2>/dev/null)" = from-guest ] && [ -d "$R/var/lib/x" ] &&
	[ "$(cat "$TMP/c.out")" = 1 ] && [ "$(stat -c %u "$R/made-in-guest")" = "$ME" ] && pass fs-rootfs-rw ||
	fail fs-rootfs-rw "rc $rc: $(cat "$TMP/c.out") $(tail -n 3 "$TMP/c.err" | tr '\n' '|')"
