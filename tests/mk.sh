#!/bin/sh
# The build scripts under mk/ on a fresh machine, with fake apt-get and
# apt-cache on PATH (no mirror needed): zlib's source falls back to an older
# version when the newest 404s, a source that does not match its .dsc is
# refused, "none at all" is one line that says what to do; the guest kernel
# falls back the same way; apt_get waits for a lock another apt holds; and
# .ci/run runs exactly the README's two commands.
. tests/lib.sh

FAKE=$TMP/bin
mkdir -p "$FAKE" "$TMP/fix"
NEW=1:1.2.13.dfsg-1+deb12u1
OLD=1:1.2.13.dfsg-1

# --- a fake zlib source package per version ------------------------------------
# fixture VERSION [corrupt]: the .dsc and orig tarball apt would fetch.
fixture() {
	_d=$TMP/fix/$1
	mkdir -p "$_d/src/zlib-1.2.13"
	(
		cd "$_d/src/zlib-1.2.13"
		printf '#!/bin/sh\necho "$@" >configure.args\n' >configure
		chmod +x configure
		printf 'libz.a: z.c\n\t$(CC) -c z.c -o z.o && ar rcs libz.a z.o\ninstall:\n\tfalse\n' >Makefile
		echo 'int zlib_fixture(void) { return 1; }' >z.c
		echo '/* fixture */' >zlib.h
		echo '/* fixture */' >zconf.h
	)
	tar czf "$_d/zlib_1.2.13.dfsg.orig.tar.gz" -C "$_d/src" zlib-1.2.13
	_sum=$(sha256sum "$_d/zlib_1.2.13.dfsg.orig.tar.gz" | cut -d' ' -f1)
	_size=$(stat -c %s "$_d/zlib_1.2.13.dfsg.orig.tar.gz")
	printf 'Source: zlib\nVersion: %s\nChecksums-Sha256:\n %s %s zlib_1.2.13.dfsg.orig.tar.gz\nFiles:\n x\n' \
		"$1" "$_sum" "$_size" >"$_d/zlib.dsc"
	[ "${2:-}" = corrupt ] && echo tampered >>"$_d/zlib_1.2.13.dfsg.orig.tar.gz"
	rm -rf "$_d/src"
}

# apt-cache: two zlib source versions; the kernel meta package in two
# versions, each depending on its own image package.
cat >"$FAKE/apt-cache" <<EOF
#!/bin/sh
case "\$1 \$2" in
"showsrc zlib") printf 'Package: zlib\nVersion: $OLD\n\nPackage: zlib\nVersion: $NEW\n' ;;
"madison linux-image-amd64")
	echo "linux-image-amd64 | 6.12.95-1~bpo12+1 | http://mirror bookworm-backports/main amd64 Packages"
	echo "linux-image-amd64 | 6.1.200-1 | http://mirror bookworm-security/main amd64 Packages"
	echo "linux-image-amd64 | 6.1.100-1 | http://mirror bookworm/main amd64 Packages" ;;
"madison busybox-static") echo "busybox-static | 1:1.35.0-4 | http://mirror bookworm/main amd64 Packages" ;;
"depends linux-image-amd64=6.12.95-1~bpo12+1") printf 'linux-image-amd64\n  Depends: linux-image-6.12.95+bpo-amd64\n' ;;
"depends linux-image-amd64=6.1.200-1") printf 'linux-image-amd64\n  Depends: linux-image-6.1.0-99-amd64\n' ;;
"depends linux-image-amd64=6.1.100-1") printf 'linux-image-amd64\n  Depends: linux-image-6.1.0-42-amd64\n' ;;
*) exit 100 ;;
esac
EOF
# apt-get: the versions listed in \$FAKE_404 answer 404; the others are
# copied from \$TMP/fix. A file \$FAKE_LOCKS holds how many calls still find
# the lists lock taken.
cat >"$FAKE/apt-get" <<EOF
#!/bin/sh
echo "\$*" >>"$TMP/apt-get.calls"
if [ -n "\${FAKE_LOCKS:-}" ] && [ "\$(cat "\$FAKE_LOCKS")" -gt 0 ]; then
	echo \$((\$(cat "\$FAKE_LOCKS") - 1)) >"\$FAKE_LOCKS"
	echo "E: Could not get lock /var/lib/apt/lists/lock. It is held by process 4242 (apt-get)" >&2
	echo "E: Unable to lock directory /var/lib/apt/lists/" >&2
	exit 100
fi
while [ "\$1" = -o ]; do shift 2; done
for a in "\$@"; do pkg=\$a; done
for v in \${FAKE_404:-}; do
	case "\$pkg" in *"=\$v"|"\$v") echo "E: Failed to fetch http://mirror/pool/updates/\$pkg  404  Not Found" >&2; exit 100 ;; esac
done
case "\$*" in
"source --download-only zlib="*) cp "$TMP/fix/\${pkg#zlib=}"/* . ;;
"download linux-image-6.1.0-"*) cp "$TMP/fix/\$pkg.deb" . ;;
"download busybox-static"*) cp "$TMP/fix/busybox-static.deb" . ;;
"update"*|"install"*) ;;
*) echo "E: fake apt-get: \$*" >&2; exit 100 ;;
esac
EOF
chmod +x "$FAKE/apt-cache" "$FAKE/apt-get"

# zlib NAME: runs mk/zlib.sh into $TMP/NAME with the fakes first on PATH.
zlib() {
	PATH="$FAKE:$PATH" sh mk/zlib.sh "$TMP/$1" >"$TMP/$1.out" 2>"$TMP/$1.err"
}

fixture "$NEW"
fixture "$OLD"
if FAKE_404="$NEW" zlib z1 && [ -f "$TMP/z1/lib/libz.a" ] &&
	grep -q "^mk/zlib.sh: skipped zlib $NEW: Failed to fetch .* 404" "$TMP/z1.err" &&
	[ "$(grep -c . "$TMP/z1.out")" -eq 1 ] &&
	grep -q "^mk/zlib.sh: using zlib $OLD " "$TMP/z1.out"; then
	pass mk_zlib_falls_back_on_404
else
	fail mk_zlib_falls_back_on_404 "$(cat "$TMP/z1.out" "$TMP/z1.err" | tr '\n' ' ')"
fi
if zlib z2 && grep -q "^mk/zlib.sh: using zlib $NEW " "$TMP/z2.out" && [ ! -s "$TMP/z2.err" ]; then
	pass mk_zlib_newest_first
else
	fail mk_zlib_newest_first "$(cat "$TMP/z2.out" "$TMP/z2.err" | tr '\n' ' ')"
fi
fixture "$OLD" corrupt
if ! FAKE_404="$NEW" zlib z3 && [ ! -e "$TMP/z3/lib/libz.a" ] &&
	grep -q "^mk/zlib.sh: skipped zlib $OLD: downloaded files do not match the .dsc" "$TMP/z3.err" &&
	[ "$(grep -c 'no zlib source could be had' "$TMP/z3.err")" -eq 1 ] &&
	[ "$(grep -c . "$TMP/z3.err")" -eq 3 ] && grep -q "run 'make deps'" "$TMP/z3.err"; then
	pass mk_zlib_checksum_and_one_line
else
	fail mk_zlib_checksum_and_one_line "$(cat "$TMP/z3.err" | tr '\n' ' ')"
fi

# --- the guest kernel: the newest image package 404s --------------------------
need_cmd mk_guest dpkg-deb && {
	# deb NAME DIR: a package NAME holding DIR's tree.
	deb() {
		mkdir -p "$2/DEBIAN"
		printf 'Package: %s\nVersion: 1\nArchitecture: amd64\nMaintainer: t <t@t>\nDescription: t\n' "$1" \
			>"$2/DEBIAN/control"
		dpkg-deb -b "$2" "$TMP/fix/$1.deb" >/dev/null
	}
	k=$TMP/kpkg
	mkdir -p "$k/boot" "$k/lib/modules/6.1.0-42-amd64/kernel"
	echo kernel >"$k/boot/vmlinuz-6.1.0-42-amd64"
	echo config >"$k/boot/config-6.1.0-42-amd64"
	deb linux-image-6.1.0-42-amd64 "$k"
	mkdir -p "$TMP/bpkg/bin"
	printf '#!/bin/sh\n' >"$TMP/bpkg/bin/busybox"; chmod +x "$TMP/bpkg/bin/busybox"
	deb busybox-static "$TMP/bpkg"
	# the backports kernel (newest in the lists, once make deps added that
	# suite) is never tried: the guest kernel is the release's
	rm -f "$TMP/apt-get.calls"
	if FAKE_404="linux-image-6.1.0-99-amd64" PATH="$FAKE:$PATH" sh mk/guest.sh "$TMP/g" \
		>"$TMP/g.out" 2>"$TMP/g.err" && [ "$(cat "$TMP/g/kver")" = 6.1.0-42-amd64 ] &&
		! grep -q bpo "$TMP/apt-get.calls" &&
		[ -x "$TMP/g/busybox" ] && [ -d "$TMP/g/modules/6.1.0-42-amd64" ] &&
		grep -q '^make guest: linux-image-6.1.0-42-amd64 ' "$TMP/g.out"; then
		pass mk_guest_falls_back_on_404
	else
		fail mk_guest_falls_back_on_404 "$(cat "$TMP/g.out" "$TMP/g.err" "$TMP/apt-get.calls" | tr '\n' ' ')"
	fi
	if ! FAKE_404="linux-image-6.1.0-99-amd64 linux-image-6.1.0-42-amd64" PATH="$FAKE:$PATH" \
		sh mk/guest.sh "$TMP/g2" >"$TMP/g2.out" 2>"$TMP/g2.err" &&
		[ "$(grep -c . "$TMP/g2.err")" -eq 2 ] && grep -q "cannot download linux-image-amd64" "$TMP/g2.err"; then
		pass mk_guest_none_one_line
	else
		fail mk_guest_none_one_line "$(cat "$TMP/g2.err" | tr '\n' ' ')"
	fi
}

# --- apt_get waits for the lists lock ------------------------------------------
echo 2 >"$TMP/locks"
rm -f "$TMP/apt-get.calls"
if out=$(FAKE_LOCKS=$TMP/locks APT_LOCK_POLL_S=1 PATH="$FAKE:$PATH" sh -c '. mk/apt.sh; apt_get update -q' 2>&1) &&
	[ "$(grep -c . "$TMP/apt-get.calls")" -eq 3 ] && printf '%s' "$out" | grep -q "held by process 4242 (apt-get)); waiting"; then
	pass mk_apt_waits_for_lock
else
	fail mk_apt_waits_for_lock "calls $(grep -c . "$TMP/apt-get.calls"): $out"
fi
echo 50 >"$TMP/locks"
if ! out=$(FAKE_LOCKS=$TMP/locks APT_LOCK_POLL_S=1 APT_LOCK_WAIT_S=2 PATH="$FAKE:$PATH" \
	sh -c '. mk/apt.sh; apt_get update -q' 2>&1) && printf '%s' "$out" | grep -q "Could not get lock"; then
	pass mk_apt_lock_wait_bounded
else
	fail mk_apt_lock_wait_bounded "$out"
fi
# a quiet success under set -e, as mk/deps.sh runs it: the filter that drops
# apt's warnings finds nothing to print, which must not end the caller
if out=$(PATH="$FAKE:$PATH" sh -ec '. mk/apt.sh; apt_get update -q; echo after-update' 2>&1) &&
	[ "$out" = after-update ]; then
	pass mk_apt_quiet_success_set_e
else
	fail mk_apt_quiet_success_set_e "output: $out"
fi
if ! out=$(PATH="$FAKE:$PATH" sh -c '. mk/apt.sh; apt_get frobnicate' 2>&1) &&
	printf '%s' "$out" | grep -q "fake apt-get: .*frobnicate"; then
	pass mk_apt_other_errors_at_once
else
	fail mk_apt_other_errors_at_once "$out"
fi

# --- the nested bed's qemu: backports known to apt, unpacked, never installed ----
# A fake apt whose lists hold bookworm's qemu 7.2, and 10.0 with its seabios
# once the backports entry exists (unless $QBPO_MISSING: then updating with
# that entry fails, as on a mirror without the suite); dpkg-query reports
# $TMP/q/installed; apt-get download copies fixture packages.
Q=$TMP/q
mkdir -p "$Q/bin" "$Q/src" "$Q/debs"
QOLD=1:7.2+dfsg-7+deb12u18
QNEW=1:10.0.2+ds-2~bpo12+1
cat >"$Q/bin/dpkg-query" <<FAKE
#!/bin/sh
[ -s "$Q/installed" ] || exit 1
printf 'install ok installed %s' "\$(cat "$Q/installed")"
FAKE
cat >"$Q/bin/apt-cache" <<FAKE
#!/bin/sh
[ "\$1" = madison ] || exit 100
case \$2 in
qemu-system-x86)
	[ -f "$Q/src/voidbox-backports.sources" ] &&
		echo " qemu-system-x86 | $QNEW | http://mirror/debian bookworm-backports/main amd64 Packages"
	echo " qemu-system-x86 | $QOLD | http://mirror/debian bookworm/main amd64 Packages" ;;
seabios)
	[ -f "$Q/src/voidbox-backports.sources" ] &&
		echo " seabios | 1.16.3-2~bpo12+1 | http://mirror/debian bookworm-backports/main all Packages"
	echo " seabios | 1.16.2-1 | http://mirror/debian bookworm/main all Packages" ;;
*) exit 100 ;;
esac
FAKE
cat >"$Q/bin/apt-get" <<FAKE
#!/bin/sh
while [ "\$1" = -o ]; do shift 2; done
echo "\$*" >>"$Q/calls"
case "\$*" in
update*)
	if [ -n "\${QBPO_MISSING:-}" ] && [ -f "$Q/src/voidbox-backports.sources" ]; then
		echo "E: The repository 'http://mirror/debian bookworm-backports Release' does not have a Release file." >&2
		exit 100
	fi ;;
"download qemu-system-x86=$QNEW qemu-system-common=$QNEW qemu-system-data=$QNEW seabios=1.16.3-2~bpo12+1")
	cp "$Q/debs/"*.deb . ;;
*) echo "E: fake apt-get: \$*" >&2; exit 100 ;;
esac
FAKE
chmod +x "$Q/bin/dpkg-query" "$Q/bin/apt-cache" "$Q/bin/apt-get"
printf 'Types: deb\n# a comment\nURIs: http://mirror/debian\nSuites: bookworm bookworm-updates\nComponents: main\nSigned-By: /k.gpg\n\nTypes: deb\nURIs: http://mirror/debian-security\nSuites: bookworm-security\n' >"$Q/debian.sources"
echo 'VERSION_CODENAME=bookworm' >"$Q/os-release"
# qenv INSTALLED [bpo] [VAR=VALUE...] -- COMMAND: runs COMMAND (sh -ec) with
# the fakes first on PATH, INSTALLED (or nothing) installed, on a sources
# folder with only debian.sources, or also the backports entry (bpo).
qenv() {
	rm -rf "$Q/src" "$Q/calls"
	mkdir -p "$Q/src"
	cp "$Q/debian.sources" "$Q/src/"
	printf '%s' "$1" >"$Q/installed"
	shift
	[ "$1" = bpo ] && { : >"$Q/src/voidbox-backports.sources"; shift; }
	_e=""
	while [ "$1" != -- ]; do _e="$_e $1"; shift; done
	shift
	# shellcheck disable=SC2086
	env $_e APT_SOURCES_DIR="$Q/src" OS_RELEASE="$Q/os-release" PATH="$Q/bin:$PATH" sh -ec "$1" 2>&1
}
qstate() { echo "installed $(cat "$Q/installed"); calls: $(tr '\n' ';' <"$Q/calls" 2>/dev/null)"; }
if out=$(qenv "$QOLD" -- '. mk/apt.sh; apt_backports_source') &&
	[ "$(tr '\n' ';' <"$Q/src/voidbox-backports.sources")" = "Types: deb;URIs: http://mirror/debian;Suites: bookworm-backports;Components: main;Signed-By: /k.gpg;" ] &&
	grep -qx 'update -q' "$Q/calls"; then
	pass mk_backports_source_added
else
	fail mk_backports_source_added "$(qstate); $out"
fi
# a mirror without backports: the entry is taken back and the lists updated
if ! out=$(qenv "$QOLD" QBPO_MISSING=1 -- '. mk/apt.sh; apt_backports_source') &&
	[ ! -e "$Q/src/voidbox-backports.sources" ] && [ "$(grep -c 'update' "$Q/calls")" -eq 2 ]; then
	pass mk_backports_source_missing_taken_back
else
	fail mk_backports_source_missing_taken_back "$(qstate); $out"
fi
need_cmd mk_bed_qemu dpkg-deb && {
	# the three qemu packages and seabios, the first with a qemu that says
	# which firmware folders it was given
	for p in qemu-system-x86 qemu-system-common qemu-system-data seabios; do
		mkdir -p "$Q/pkg/$p/DEBIAN"
		printf 'Package: %s\nVersion: 1\nArchitecture: all\nMaintainer: t <t@t>\nDescription: t\n' "$p" \
			>"$Q/pkg/$p/DEBIAN/control"
	done
	mkdir -p "$Q/pkg/qemu-system-x86/usr/bin" "$Q/pkg/seabios/usr/share/seabios"
	printf '#!/bin/sh\necho "fake qemu 10: $*"\n' >"$Q/pkg/qemu-system-x86/usr/bin/qemu-system-x86_64"
	chmod +x "$Q/pkg/qemu-system-x86/usr/bin/qemu-system-x86_64"
	for p in qemu-system-x86 qemu-system-common qemu-system-data seabios; do
		dpkg-deb -b "$Q/pkg/$p" "$Q/debs/$p.deb" >/dev/null
	done
	rm -rf "$TMP/bq"
	if out=$(qenv "$QOLD" bpo -- "sh mk/bed-qemu.sh $TMP/bq") &&
		[ "$("$TMP/bq/qemu" --version)" = "fake qemu 10: -L $TMP/bq/root/usr/share/seabios -L $TMP/bq/root/usr/share/qemu --version" ] &&
		printf '%s' "$out" | grep -q "make bed-qemu: qemu-system-x86 $QNEW, unpacked"; then
		pass mk_bed_qemu_from_backports
	else
		fail mk_bed_qemu_from_backports "$(qstate); $out; wrapper: $(cat "$TMP/bq/qemu" 2>&1)"
	fi
	rm -rf "$TMP/bq"
	if out=$(qenv "$QNEW" bpo -- "sh mk/bed-qemu.sh $TMP/bq") && [ ! -e "$Q/calls" ] &&
		grep -qx 'exec qemu-system-x86_64 "$@"' "$TMP/bq/qemu" && [ ! -e "$TMP/bq/root" ]; then
		pass mk_bed_qemu_system_new_enough
	else
		fail mk_bed_qemu_system_new_enough "$(qstate); $out"
	fi
	# nothing newer in apt's lists: the system's qemu, and a line that says
	# what that means
	rm -rf "$TMP/bq"
	if out=$(qenv "$QOLD" -- "sh mk/bed-qemu.sh $TMP/bq") &&
		grep -qx 'exec qemu-system-x86_64 "$@"' "$TMP/bq/qemu" &&
		printf '%s' "$out" | grep -q 'no qemu-system-x86 >= 8.2 in apt.s lists (newest: 1:7.2.*may freeze'; then
		pass mk_bed_qemu_none_says_so
	else
		fail mk_bed_qemu_none_says_so "$(qstate); $out"
	fi
}

# --- .ci/run is the README's two commands ----------------------------------------
readme=$(sed -n '/^```sh$/,/^```$/p' README.md | sed '1d;$d' | sed 's/ *#.*//' | head -n 2)
ci=$(grep -vE '^(#|set |cd |$)' .ci/run)
if [ "$(printf '%s\n' "$readme" | grep -c .)" -eq 2 ] && [ "$readme" = "$ci" ]; then
	pass mk_ci_runs_readme_commands
else
	fail mk_ci_runs_readme_commands "README: $(printf '%s' "$readme" | tr '\n' ';') .ci/run: $(printf '%s' "$ci" | tr '\n' ';')"
fi
