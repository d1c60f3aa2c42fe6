# Sourced by mk/deps.sh after mk/apt.sh: qemu-system-x86 new enough for the
# nested KVM test bed. qemu's TCG before 8.2 does not check for interrupts when
# STI's one-instruction shadow ends, so the bed's L1 can stay inside its L2
# guest for good (docs/kvm.md, "The bed's freeze"); bookworm ships 7.2. Where
# the release's own qemu is older than $QEMU_MIN, the release's backports suite
# is added to apt's sources and qemu-system-x86 alone (with what it pulls) is
# taken from it, chosen by version, never by name. Where no suite has one, the
# release's qemu is installed and make deps says the bed may freeze.
# APT_SOURCES_DIR and OS_RELEASE point elsewhere for tests/mk.sh.

QEMU_MIN=${QEMU_MIN:-1:8.2}

# qemu_installed: the installed version of qemu-system-x86, or nothing.
qemu_installed() {
	dpkg-query -W -f='${Status} ${Version}' qemu-system-x86 2>/dev/null |
		sed -n 's/^install ok installed //p'
}

# qemu_suite VERSION: the suite (bookworm-backports) that apt's lists hold
# qemu-system-x86 VERSION from, or nothing.
qemu_suite() {
	apt-cache madison qemu-system-x86 2>/dev/null | awk -F'|' -v v="$1" '
		{ gsub(/ /, "", $2) }
		$2 == v && $3 ~ /Packages/ { split($3, w, " "); sub(/\/.*/, "", w[2]); print w[2]; exit }'
}

# qemu_backports_source: adds RELEASE-backports to apt's sources, a copy of
# debian.sources' first entry with that one suite, and updates the lists.
# Returns non-zero, and leaves no entry behind, when the mirror has no such
# suite or there is no debian.sources to copy.
qemu_backports_source() {
	_dir=${APT_SOURCES_DIR:-/etc/apt/sources.list.d}
	_bpo=$_dir/voidbox-backports.sources
	[ -f "$_bpo" ] && return 0
	_code=$(. "${OS_RELEASE:-/etc/os-release}" && echo "${VERSION_CODENAME:-}")
	[ -n "$_code" ] && [ -f "$_dir/debian.sources" ] || return 1
	awk -v s="$_code-backports" '
		/^#/ { next } /^$/ { exit }
		/^Suites:/ { print "Suites: " s; next } { print }' "$_dir/debian.sources" >"$_bpo"
	apt_get update -q && return 0
	rm -f "$_bpo"
	apt_get update -q
	return 1
}

# qemu_deps: installs qemu-system-x86 >= $QEMU_MIN where apt can find one,
# the release's otherwise. Returns apt-get's status.
qemu_deps() {
	_have=$(qemu_installed)
	[ -n "$_have" ] && dpkg --compare-versions "$_have" ge "$QEMU_MIN" && return 0
	qemu_backports_source || echo "make deps: no backports suite on this mirror for a newer qemu" >&2
	_best=$(apt_versions backports qemu-system-x86 | head -n 1)
	if [ -n "$_best" ] && dpkg --compare-versions "$_best" ge "$QEMU_MIN"; then
		_suite=$(qemu_suite "$_best")
		echo "make deps: qemu-system-x86 $_best from ${_suite:-the release}"
		export DEBIAN_FRONTEND=noninteractive
		apt_get install -y -q --no-install-recommends ${_suite:+-t "$_suite"} qemu-system-x86
		return
	fi
	echo "make deps: no qemu-system-x86 >= ${QEMU_MIN#1:} in apt's lists (newest: ${_best:-none}); the nested KVM bed may freeze (docs/kvm.md)" >&2
	[ -n "$_have" ] && return 0
	apt_get install -y -q --no-install-recommends qemu-system-x86
}
