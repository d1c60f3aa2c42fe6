#!/bin/sh
# Each applet's --help against what its option parser accepts, learned
# from the binary itself and not from a copy of any list: the long names
# by walking prefixes (getopt_long takes a unique prefix; the parser says
# "unknown option", "is ambiguous", "option --NAME needs a value" or, for a
# flag given "=x", "option --NAME takes no value"), the short letters by
# trying each. --help must list exactly those, each once. Then the
# mistakes: one line each, exit 2. (base/opts.h; test_opts checks the
# tables themselves.) No VM is started.
CHARS="a b c d e f g h i j k l m n o p q r s t u v w x y z 0 1 2 3 4 5 6 7 8 9 -"

# say APPLET ARGS...: the applet's stderr (no stdin).
say() {
	_ap=$1; shift
	"$VOIDBOX" "$_ap" "$@" </dev/null 2>&1 >/dev/null
}

# walk APPLET PREFIX: prints the long options of APPLET that start with
# PREFIX, one a line; returns 1 after printing a reply it cannot read.
walk() {
	local m name c
	m=$(say "$1" "--$2")
	name=
	case "$m" in
	*"unknown option --$2 "*) return 0 ;;
	*"option --$2 is ambiguous"*) ;;
	*"option --"*" needs a value") name=${m#*option --}; name=${name% needs a value} ;;
	*)
		m=$(say "$1" "--$2=x")
		case "$m" in
		*"option --"*" takes no value") name=${m#*option --}; name=${name% takes no value} ;;
		*) echo "--$2=x: $m"; return 1 ;;
		esac ;;
	esac
	if [ -n "$name" ]; then
		echo "$name"
		[ "$name" = "$2" ] || return 0 # a unique prefix: no other name starts so
	fi
	for c in $CHARS; do walk "$1" "$2$c" || return 1; done
}

# `sh tests/opts.sh walk APPLET` (in an empty folder, under a timeout):
# the long options APPLET accepts, one a line.
if [ "${1:-}" = walk ]; then
	for c in $CHARS; do walk "$2" "$c" || exit 1; done
	exit 0
fi

. tests/lib.sh
mkdir -p "$TMP/cwd"
export VOIDBOX

# long_names APPLET: the long options it accepts, sorted.
long_names() {
	(cd "$TMP/cwd" && timeout 300 sh "$OLDPWD/tests/opts.sh" walk "$1") >"$TMP/walk" || {
		tail -n 1 "$TMP/walk"; return 1; }
	sort -u "$TMP/walk"
}

# letters APPLET: the short options it accepts, one a line, sorted.
letters() {
	for _c in a b c d e f g h i j k l m n o p q r s t u v w x y z \
		A B C D E F G H I J K L M N O P Q R S T U V W X Y Z 0 1 2 3 4 5 6 7 8 9; do
		case "$(cd "$TMP/cwd" && timeout 10 "$VOIDBOX" "$1" "-$_c" </dev/null 2>&1 >/dev/null)" in *"unknown option -$_c "*) ;; *) echo "$_c" ;; esac
	done | sort
}

for a in run mkinitramfs pcap agent; do
	"$VOIDBOX" $a --help >"$TMP/help" 2>"$TMP/help.err"; rc=$?
	if [ $rc != 0 ] || [ -s "$TMP/help.err" ]; then
		fail "opts_help_$a" "rc $rc: $(head -n 1 "$TMP/help.err")"; continue
	fi
	# the option entries of --help: "  -x, --name ..." or "      --name ..."
	sed -n 's/^  \(-[A-Za-z0-9], \|    \)--\([a-z0-9-]*\).*/\2/p' "$TMP/help" | sort >"$TMP/h.names"
	sed -n 's/^  -\([A-Za-z0-9]\), --.*/\1/p' "$TMP/help" | sort >"$TMP/h.letters"
	if ! long_names $a >"$TMP/p.names"; then
		fail "opts_help_lists_every_long_option_$a" "probe: $(tail -n 1 "$TMP/p.names")"
	elif [ "$(wc -l <"$TMP/p.names")" -lt 2 ]; then
		fail "opts_help_lists_every_long_option_$a" "the probe found $(wc -l <"$TMP/p.names")"
	elif ! cmp -s "$TMP/p.names" "$TMP/h.names"; then
		fail "opts_help_lists_every_long_option_$a" \
			"accepted but not listed once: $(comm -23 "$TMP/p.names" "$TMP/h.names" | tr '\n' ' ')|" \
			"listed but not accepted, or twice: $(comm -13 "$TMP/p.names" "$TMP/h.names" | tr '\n' ' ')"
	else
		pass "opts_help_lists_every_long_option_$a"
	fi
	letters $a >"$TMP/p.letters"
	cmp -s "$TMP/p.letters" "$TMP/h.letters" && pass "opts_help_lists_every_letter_$a" ||
		fail "opts_help_lists_every_letter_$a" \
			"accepted $(tr '\n' ' ' <"$TMP/p.letters"), listed $(tr '\n' ' ' <"$TMP/h.letters")"
	# each kind of mistake: exit 2, one line naming it
	# the first entry with a value, the first without
	arg=$(sed -En 's/^  (-[A-Za-z0-9], |    )--([a-z0-9-]+) [^ ].*/\2/p' "$TMP/help" | head -n 1)
	flag=$(sed -En 's/^  (-[A-Za-z0-9], |    )--([a-z0-9-]+)(  .*)?$/\2/p' "$TMP/help" | head -n 1)
	for m in "unknown:--frobnicate:unknown option --frobnicate (see voidbox $a --help)" \
		"missing_value:--$arg:option --$arg needs a value" \
		"flag_value:--$flag=1:option --$flag takes no value"; do
		n=${m%%:*}; m=${m#*:}
		"$VOIDBOX" $a "${m%%:*}" >"$TMP/m.out" 2>"$TMP/m.err" </dev/null; rc=$?
		if [ $rc = 2 ] && [ "$(cat "$TMP/m.err")" = "voidbox $a: ${m#*:}" ] && [ ! -s "$TMP/m.out" ]; then
			pass "opts_mistake_${a}_$n"
		else
			fail "opts_mistake_${a}_$n" "${m%%:*}: rc $rc: $(tr '\n' '|' <"$TMP/m.err")"
		fi
	done
done
