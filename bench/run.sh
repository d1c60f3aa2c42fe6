#!/bin/sh
# Runs the benchmarks (bench/*.sh), each comparing voidbox with a peer in the
# same run and printing its own table. $1 filters by name.
: "${B:=build}"
export B GUEST_DIR
for t in bench/*.sh; do
	[ "$t" = bench/run.sh ] && continue
	case "$t" in *"${1:-}"*) ;; *) continue ;; esac
	echo "== $t"
	sh "$t"
done
