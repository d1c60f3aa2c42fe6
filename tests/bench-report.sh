#!/bin/sh
# The benchmarks' reporting (bench/lib.sh, bench/report.py) on synthetic
# rows, with no VM and no network: each status (met, MISSED, NO DATA, '-')
# for >= and <= targets, the CSV's columns, the page's machine line, bold
# MISSED, notes and chart link, the SVG (valid XML, two bars per row), the
# summary's rows and counts, bench_skip's page in the summary, the lib on
# its own (without tests/lib.sh), and a BENCH_EMIT run replayed under
# another name (what bench/kvm-nested.sh does).
. tests/lib.sh
need_cmd bench-report python3 || exit 0
R=$TMP/results
export BENCH_RESULTS="$R"

# csv_field NAME METRIC COLUMN: COLUMN of the row METRIC in R/NAME.csv
csv_field() {
	python3 -c 'import csv, sys
for r in csv.DictReader(open(sys.argv[1])):
    if r["metric"] == sys.argv[2]: print(r[sys.argv[3]])' "$R/$1.csv" "$2" "$3"
}
# is WHAT WANT GOT: fails with a message unless GOT is WANT
is() { [ "$3" = "$2" ] || { echo "$1: want '$2', got '$3'"; return 1; }; }

# --- one result with every status ------------------------------------------------
. bench/lib.sh
bench_begin demo "Demo title" "Set-up paragraph: 1 round, 1 MiB." >/dev/null
bench_row "ge met" MB/s 30 peerA 10 ">=3" "medians of 1"
bench_row "ge missed" MB/s 20 peerA 10 ">=3"
bench_row "le met" ms 40 peerB 100 "<=0.5"
bench_row "le missed" ms 60 peerB 100 "<=0.5"
bench_row "le at bound" ms 50 peerB 100 "<=0.5"
bench_row "no voidbox value" ms "" peerB 100 "<=0.5"
bench_row "peer dash" ms 5 peerB - ">=1.0"
bench_row "peer zero" ms 5 peerB 0 ">=1.0"
bench_row "voidbox zero" ms 0 peerB 3 "<=1.0"
bench_row "info only" us 7 "peer with spaces" 14 -
bench_row "just below" MB/s 2.996 peerA 1 ">=3"
bench_note "First note, 100% plain."
bench_note "Second note
with a second line."
bench_end >"$TMP/end.out"

st() { csv_field demo "$1" status; }
check status-ge-met is "ge met" met "$(st "ge met")"
check status-ge-missed is "ge missed" MISSED "$(st "ge missed")"
check status-le-met is "le met" met "$(st "le met")"
check status-le-missed is "le missed" MISSED "$(st "le missed")"
check status-le-at-bound is "le at bound" met "$(st "le at bound")"
check status-no-value is "no voidbox value" "NO DATA" "$(st "no voidbox value")"
check status-peer-dash is "peer dash" "NO DATA" "$(st "peer dash")"
check status-peer-zero is "peer zero" "NO DATA" "$(st "peer zero")"
check status-voidbox-zero is "voidbox zero" "NO DATA" "$(st "voidbox zero")"
check status-info is "info only" - "$(st "info only")"
# 2.996 would print as 3.00 beside a MISSED ">=3": more digits then
check ratio-near-bound is "just below" "2.9960 MISSED" \
	"$(csv_field demo "just below" ratio) $(st "just below")"
check ratio-computed is "ge met ratio" 3.00 "$(csv_field demo "ge met" ratio)"
check ratio-info-row is "info only ratio" 0.50 "$(csv_field demo "info only" ratio)"
check csv-header is "csv header" "metric,unit,voidbox,peer,peer_value,ratio,target,status,note" \
	"$(head -n 1 "$R/demo.csv" | tr -d '\r')"
check csv-rows is "csv rows" 12 "$(wc -l <"$R/demo.csv" | tr -d ' ')"
check csv-note-and-peer is "note, peer" "medians of 1|peer with spaces" \
	"$(csv_field demo "ge met" note)|$(csv_field demo "info only" peer)"
check md-machine grep -q '^Machine: .*CPUs.*kernel .*/dev/kvm: \(yes\|no\), qemu [^;]*; .* UTC; tree ' "$R/demo.md"
check md-heading-setup sh -c "head -n 1 '$R/demo.md' | grep -qx '# Demo title' && grep -qx 'Set-up paragraph: 1 round, 1 MiB.' '$R/demo.md'"
check md-table-head grep -q '^| metric | voidbox | peer | peer value | voidbox/peer | target | status |' "$R/demo.md"
check md-bold-missed grep -q '^| ge missed | 20 MB/s | peerA | 10 MB/s | 2.00 | >=3 | \*\*MISSED\*\* |' "$R/demo.md"
check md-no-bare-missed sh -c "! grep -q '| MISSED |' '$R/demo.md'"
check md-notes sh -c "grep -qx 'First note, 100% plain.' '$R/demo.md' && grep -qx 'with a second line.' '$R/demo.md'"
check md-chart grep -qx '!\[chart\](demo.svg)' "$R/demo.md"
check end-prints-table grep -q '^| le missed | 60 ms | peerB | 100 ms | 0.60 | <=0.5 | \*\*MISSED\*\* |' "$TMP/end.out"
check svg-two-bars-per-row python3 -c '
import sys, xml.etree.ElementTree as E
ns = "{http://www.w3.org/2000/svg}"
root = E.parse(sys.argv[1]).getroot()
assert root.tag == ns + "svg", root.tag
groups = [g for g in root.iter(ns + "g") if g.get("class") == "row"]
assert len(groups) == 11, "%d row groups" % len(groups)
for g in groups:
    bars = [r.get("class") for r in g.iter(ns + "rect") if (r.get("class") or "").startswith("bar")]
    assert bars == ["bar voidbox", "bar peer"], bars
text = " ".join(t.text or "" for t in root.iter(ns + "text"))
assert "MISSED" in text and "met" in text, text
' "$R/demo.svg"
check svg-missed-red python3 -c '
import sys, xml.etree.ElementTree as E
ns = "{http://www.w3.org/2000/svg}"
t = [x for x in E.parse(sys.argv[1]).getroot().iter(ns + "text") if (x.text or "").startswith("MISSED")]
assert t and all(x.get("fill") == "#c53030" for x in t), [x.get("fill") for x in t]
' "$R/demo.svg"

# --- the lib on its own, a skip, a stale result, the summary ---------------------
echo "metric,unit,voidbox,peer,peer_value,ratio,target,status,note" >"$R/gone.csv"
echo "x,ms,1,p,1,1.00,<=0.5,MISSED," >>"$R/gone.csv"
check skip-line is "bench_skip output" "SKIP gone: no /dev/kvm here" \
	"$(env -u TMP sh -c '. bench/lib.sh; bench_skip gone "no /dev/kvm here"')"
check skip-page grep -qx 'SKIPPED: no /dev/kvm here' "$R/gone.md"
check skip-drops-csv test ! -e "$R/gone.csv"
env -u TMP sh -c '. bench/lib.sh
bench_begin alone "On its own" "No tests/lib.sh."
bench_row "alone row" ms 1 peer 2 "<=0.8"
bench_end' >/dev/null 2>&1
check lib-without-tests-lib is "alone status" met "$(csv_field alone "alone row" status)"
check row-arity sh -c '. bench/lib.sh; ! BENCH_EMIT=1 bench_row a b c 2>/dev/null'
python3 bench/report.py summary "$R" >"$TMP/sum.out"
# demo: 3 met (ge met, le met, le at bound), 3 MISSED, 4 NO DATA; alone: 1 met; gone skipped
check summary-counts is "summary counts" "4 met, 3 MISSED, 4 no data, 1 skipped" "$(tail -n 1 "$TMP/sum.out")"
check summary-file grep -qx "4 met, 3 MISSED, 4 no data, 1 skipped" "$R/SUMMARY.md"
check summary-skipped-row grep -q '^| \[gone\](gone.md) | SKIPPED: no /dev/kvm here |.*| SKIPPED |$' "$R/SUMMARY.md"
check summary-bold-missed grep -q '^| \[demo\](demo.md) | le missed | 60 ms | peerB: 100 ms | 0.60 | <=0.5 | \*\*MISSED\*\* |$' "$R/SUMMARY.md"
check summary-rows is "summary rows" 13 "$(grep -c '^| \[' "$R/SUMMARY.md")"
check summary-why-link grep -q "^Why each MISSED target is missed.*(../../docs/bench.md#targets-missed-why-and-what-it-would-take)" "$R/SUMMARY.md"

# --- BENCH_EMIT elsewhere, replayed here under another name -------------------------
BENCH_EMIT=1 sh -c '. bench/lib.sh
echo "some other output"
bench_begin inner "Inner" "Set-up with	a tab and 50%."
bench_row "emitted" ms 10 peer 40 "<=0.3" "a note"
bench_row "emitted empty" ms "" peer 40 "<=0.3"
bench_note "line one
line two %0A literal"
bench_end' >"$TMP/emit.out"
check emit-writes-nothing test ! -e "$R/inner.md"
check emit-lines is "BENCH-EMIT lines" 5 "$(grep -c '^BENCH-EMIT	' "$TMP/emit.out")"
check replay-ok sh -c ". bench/lib.sh; bench_replay '$TMP/emit.out' inner outer >/dev/null"
check replay-renamed test -f "$R/outer.md" -a ! -e "$R/inner.md"
check replay-rows is "replayed statuses" "met|NO DATA" \
	"$(csv_field outer emitted status)|$(csv_field outer "emitted empty" status)"
check replay-note sh -c "grep -qx 'line one' '$R/outer.md' && grep -qx 'line two %0A literal' '$R/outer.md' && grep -q 'with.a tab and 50%' '$R/outer.md'"
echo "nothing emitted" >"$TMP/none.out"
check replay-none-fails sh -c ". bench/lib.sh; ! bench_replay '$TMP/none.out' >/dev/null"
