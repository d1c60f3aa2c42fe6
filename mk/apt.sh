# Shared by the mk/ scripts (sourced): apt-get that waits for apt's locks,
# and the versions of a package that apt knows, newest first.

# apt_get ARGS...: apt-get ARGS, waiting for the locks another apt holds (a CI
# image warming up, unattended upgrades) instead of failing. dpkg's lock is
# waited for by apt itself (DPkg::Lock::Timeout); the lists lock that
# `apt-get update` takes is not, so a failure that names a lock is retried,
# every $APT_LOCK_POLL_S seconds (default 5) for up to $APT_LOCK_WAIT_S
# (default 600). Returns apt-get's status.
apt_get() {
	_log=$(mktemp /tmp/voidbox-apt.XXXXXX)
	_waited=0
	while :; do
		apt-get -o DPkg::Lock::Timeout="${APT_LOCK_WAIT_S:-600}" "$@" 2>"$_log" && {
			# grep finds nothing when apt said nothing but warnings: not a
			# failure, and callers run under set -e (mk/deps.sh)
			grep -v '^W: ' "$_log" >&2 || true
			rm -f "$_log"
			return 0
		}
		_rc=$?
		if grep -qE 'Could not get lock|Unable to lock' "$_log" &&
			[ "$_waited" -lt "${APT_LOCK_WAIT_S:-600}" ]; then
			[ "$_waited" -eq 0 ] && echo "mk: another apt holds its lock ($(grep -m1 -oE 'held by process [0-9]+ \([^)]*\)' "$_log" || echo "lock busy")); waiting up to ${APT_LOCK_WAIT_S:-600} s" >&2
			sleep "${APT_LOCK_POLL_S:-5}"
			_waited=$((_waited + ${APT_LOCK_POLL_S:-5}))
			continue
		fi
		cat "$_log" >&2
		rm -f "$_log"
		return "$_rc"
	done
}

# apt_versions binary|backports|source PKG: every version of PKG that apt's
# lists hold, newest first (dpkg's ordering, epochs and ~ included), one a
# line. binary leaves out the -backports suites (make deps adds one for
# mk/bed-qemu.sh; the guest kernel and busybox are the release's);
# backports keeps them.
apt_versions() {
	if [ "$1" = source ]; then
		_all=$(apt-cache showsrc "$2" 2>/dev/null | sed -n 's/^Version: //p' | sort -u)
	else
		_all=$(apt-cache madison "$2" 2>/dev/null | awk -F'|' -v bpo="$1" '
			$3 ~ /Packages/ && (bpo == "backports" || $3 !~ /-backports\//) {gsub(/ /, "", $2); print $2}' | sort -u)
	fi
	for _v in $_all; do
		_n=0
		for _w in $_all; do
			dpkg --compare-versions "$_w" gt "$_v" && _n=$((_n + 1))
		done
		echo "$_n $_v"
	done | sort -n | cut -d' ' -f2-
}

# apt_backports_source: adds the release's backports suite to apt's sources
# (a copy of debian.sources' first entry with that one suite, in
# voidbox-backports.sources) and updates the lists; nothing when it is there.
# apt never installs from it unless asked (backports is NotAutomatic), and
# apt_versions binary leaves it out. Returns non-zero, leaving no entry
# behind, where the mirror has no such suite or there is no debian.sources.
# APT_SOURCES_DIR and OS_RELEASE point elsewhere for tests/mk.sh.
apt_backports_source() {
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
