#!/bin/sh
# Replays every fuzz corpus (tests/fuzz/corpus/<target>/) through its
# target built with gcc's ASan+UBSan around tests/fuzz/replay.c
# ($B/fuzz-replay/<target>, built by make check): one PASS per target when
# every input went through without a sanitizer report, a crash or a hang.
# New inputs come from `make fuzz T=SECS` (docs/security.md).
. tests/lib.sh
for d in tests/fuzz/corpus/*/; do
	t=$(basename "$d")
	bin=$B/fuzz-replay/$t
	if [ ! -x "$bin" ]; then
		fail "fuzz_replay_$t" "$bin not built (make replay)"
		continue
	fi
	n=$(ls "$d" | wc -l)
	# stderr carries what the code under test logs about hostile input
	if out=$(timeout 300 "$bin" "$d" 2>"$TMP/err") && [ "$out" = "replayed $n inputs" ]; then
		pass "fuzz_replay_$t"
		echo "# fuzz $t: $n inputs" >&2
	else
		fail "fuzz_replay_$t" "$(grep -m1 -E 'ERROR|runtime error|SUMMARY|replay:' "$TMP/err" || tail -n 1 "$TMP/err")"
	fi
done
for s in tests/fuzz/*.c; do
	t=$(basename "$s" .c)
	[ "$t" = replay ] || [ -d "tests/fuzz/corpus/$t" ] || fail "fuzz_replay_$t" "no corpus in tests/fuzz/corpus/$t"
done
