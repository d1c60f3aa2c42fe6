#!/bin/sh
# Runs the benchmarks (bench/*.sh), each comparing voidbox with a peer in the
# same run and writing its result through bench/lib.sh (NAME.md, .csv, .svg
# under $BENCH_RESULTS, default bench/results/), then gathers every result
# there into SUMMARY.md and ends with that one table. $1 filters by name;
# the summary still lists the latest result of every bench.
: "${B:=build}"
: "${BENCH_RESULTS:=bench/results}"
export B GUEST_DIR BENCH_RESULTS
for t in bench/*.sh; do
	case "$t" in bench/run.sh | bench/lib.sh) continue ;; esac # this runner, the helpers
	case "$t" in *"${1:-}"*) ;; *) continue ;; esac
	echo "== $t"
	sh "$t" || echo "(exit $? from $t)"
done
echo
echo "== summary ($BENCH_RESULTS/SUMMARY.md)"
python3 bench/report.py summary "$BENCH_RESULTS"
