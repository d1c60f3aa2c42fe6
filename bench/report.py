"""The benchmarks' reports (python3 stdlib only), called by bench/lib.sh and
bench/run.sh. `result ROWS NAME TITLE SETUP NOTES_DIR OUTDIR` turns one
bench's tab-separated rows (metric, unit, voidbox value, peer name, peer
value, target, note) into OUTDIR/NAME.csv, NAME.md (heading, the machine,
the set-up, the table with ratios voidbox/peer and each target's status,
the notes, the chart) and NAME.svg (a hand-written bar chart), and prints
the markdown table. `skip NAME WHY OUTDIR` writes NAME.md saying SKIPPED.
`summary OUTDIR` gathers every OUTDIR/*.csv and skipped NAME.md into
OUTDIR/SUMMARY.md and prints it. `replay FILE OUTDIR [FROM TO]` writes the
results a BENCH_EMIT=1 run described in FILE's BENCH-EMIT lines."""
import csv
import datetime
import glob
import os
import re
import subprocess
import sys
import urllib.parse
from xml.sax.saxutils import escape

CSV_HEADER = ["metric", "unit", "voidbox", "peer", "peer_value", "ratio", "target", "status", "note"]
SKIP_MARK = "SKIPPED: "


def number(text):
    """The float in TEXT, or None for an empty, '-' or unreadable value."""
    text = (text or "").strip()
    if text in ("", "-"):
        return None
    try:
        return float(text)
    except ValueError:
        return None


def parse_target(text):
    """('>=' or '<=', bound) from a target such as '>=1.5', or None for '-'."""
    m = re.fullmatch(r"\s*(>=|<=)\s*([0-9]*\.?[0-9]+)\s*", text or "")
    return (m.group(1), float(m.group(2))) if m else None


def evaluate(voidbox, peer_value, target):
    """(ratio or None, status) of one row: met, MISSED, NO DATA or '-'."""
    v, p, t = number(voidbox), number(peer_value), parse_target(target)
    ratio = v / p if v is not None and p else None
    if t is None:
        return ratio, "-"
    if ratio is None or not v:
        return ratio, "NO DATA"
    ok = ratio >= t[1] if t[0] == ">=" else ratio <= t[1]
    return ratio, "met" if ok else "MISSED"


def fmt_ratio(ratio, target, status):
    """The ratio with two decimals, or more where two would look like the bound."""
    if ratio is None:
        return "-"
    text = "%.2f" % ratio
    t = parse_target(target)
    if t and status == "MISSED" and float(text) == t[1]:
        text = "%.4f" % ratio
    return text


def fmt_value(value, unit):
    """A value with its unit for the table, '-' when there is none."""
    value = (value or "").strip()
    return "-" if value in ("", "-") else ("%s %s" % (value, unit or "")).strip()


def machine():
    """One line on where this ran: CPU, cores, memory, kernel, /dev/kvm, qemu
    (it runs the TCG guests and the nested bed's L1), date, tree."""
    cpu = "unknown CPU"
    mem = "?"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        for line in open("/proc/meminfo"):
            if line.startswith("MemTotal:"):
                mem = "%.1f GiB" % (int(line.split()[1]) / 1048576)
                break
    except OSError:
        pass
    try:
        ncpu = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        ncpu = os.cpu_count()
    kvm = "yes" if os.path.exists("/dev/kvm") else "no"
    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return "Machine: %s, %s CPUs, %s RAM, kernel %s, /dev/kvm: %s, %s; %s; tree %s" % (
        cpu, ncpu, mem, os.uname().release, kvm, qemu_version(), date, tree())


def qemu_version():
    """'qemu X.Y.Z' of the qemu-system-x86_64 on PATH ('qemu: none' without
    one), then ', bed qemu X.Y.Z' where $B/bed-qemu/qemu (the nested bed's
    L1, mk/bed-qemu.sh) runs another version."""
    def version(cmd):
        try:
            out = subprocess.run([cmd, "--version"], capture_output=True, text=True, timeout=10).stdout
        except (OSError, subprocess.SubprocessError):
            return None
        m = re.search(r"version (\S+)", out)
        return m.group(1) if m else "unknown"
    system = version("qemu-system-x86_64")
    text = "qemu " + system if system else "qemu: none"
    bed = os.path.join(os.environ.get("B", "build"), "bed-qemu", "qemu")
    bed_v = version(bed) if os.access(bed, os.X_OK) else None
    if bed_v and bed_v != system:
        text += ", bed qemu " + bed_v
    return text


def tree():
    """git describe --always of the tree, '-dirty' when tracked files outside
    bench/results/ differ from HEAD (results written by this run don't count)."""
    try:
        desc = subprocess.run(["git", "describe", "--always"], capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    dirty = subprocess.run(["git", "diff", "--quiet", "HEAD", "--", ".", ":(exclude)bench/results"],
                           capture_output=True).returncode != 0
    return desc + ("-dirty" if dirty else "")


def read_rows(path):
    """The rows file's records as dicts (the CSV's columns, ratio and status computed)."""
    rows = []
    for line in open(path, encoding="utf-8", errors="replace"):
        line = line.rstrip("\n")
        if not line:
            continue
        f = (line.split("\t") + [""] * 7)[:7]
        ratio, status = evaluate(f[2], f[4], f[5])
        rows.append({"metric": f[0], "unit": f[1], "voidbox": f[2].strip(), "peer": f[3],
                     "peer_value": f[4].strip(), "ratio": fmt_ratio(ratio, f[5], status),
                     "target": f[5].strip() or "-", "status": status, "note": f[6],
                     "_ratio": ratio})
    return rows


def md_status(status):
    """A status as the tables show it: MISSED in bold, so it cannot be overlooked."""
    return {"MISSED": "**MISSED**", "NO DATA": "*NO DATA*"}.get(status, status)


def md_cell(text):
    """TEXT safe in a markdown table cell."""
    return (text or "").replace("|", "\\|").replace("\n", " ")


def md_table(rows):
    """The result's markdown table (a note column only where a row has a note)."""
    notes = any(r["note"] for r in rows)
    head = ["metric", "voidbox", "peer", "peer value", "voidbox/peer", "target", "status"]
    if notes:
        head.append("note")
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [r["metric"], fmt_value(r["voidbox"], r["unit"]), r["peer"],
                 fmt_value(r["peer_value"], r["unit"]), r["ratio"], r["target"], md_status(r["status"])]
        if notes:
            cells.append(r["note"])
        out.append("| " + " | ".join(md_cell(c) for c in cells) + " |")
    return "\n".join(out)


def svg_chart(title, rows):
    """The chart: per row, bars for voidbox and the peer scaled to the larger
    of the two, their values, the metric, the ratio and the status; a legend."""
    width, left, barw, row_h, top = 1040, 320, 430, 74, 64
    colours = {"voidbox": "#2b6cb0", "peer": "#a0aec0"}
    status_col = {"met": "#2f855a", "MISSED": "#c53030", "NO DATA": "#b7791f", "-": "#4a5568"}
    height = top + row_h * len(rows) + 16
    out = ['<?xml version="1.0" encoding="UTF-8"?>',
           '<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" '
           'font-family="sans-serif" font-size="13">' % (width, height, width, height),
           '<rect width="100%" height="100%" fill="white"/>',
           '<text x="10" y="22" font-size="16" font-weight="bold">%s</text>' % escape(title),
           '<rect x="10" y="34" width="14" height="12" fill="%s"/>' % colours["voidbox"],
           '<text x="30" y="45">voidbox</text>',
           '<rect x="100" y="34" width="14" height="12" fill="%s"/>' % colours["peer"],
           '<text x="120" y="45">peer (named on its bar)</text>',
           '<text x="%d" y="45" fill="#4a5568">ratio = voidbox / peer; target and status on the right</text>'
           % (left + 60)]
    for i, r in enumerate(rows):
        y = top + i * row_h
        v, p = number(r["voidbox"]), number(r["peer_value"])
        scale = max(abs(v or 0), abs(p or 0))
        out.append('<g class="row">')
        out.append('<text x="10" y="%d" font-weight="bold">%s%s</text>' % (
            y + 12, escape(r["metric"]), escape(" (%s)" % r["unit"]) if r["unit"] else ""))
        for j, (who, label, val, raw) in enumerate((("voidbox", "voidbox", v, r["voidbox"]),
                                                    ("peer", r["peer"], p, r["peer_value"]))):
            by = y + 20 + j * 22
            w = barw * abs(val) / scale if val and scale else 0
            short = label if len(label) <= 44 else label[:43] + "\u2026"
            out.append('<text x="%d" y="%d" text-anchor="end"><title>%s</title>%s</text>'
                       % (left - 8, by + 13, escape(label), escape(short)))
            out.append('<rect class="bar %s" x="%d" y="%d" width="%.1f" height="16" fill="%s"/>'
                       % (who, left, by, w, colours[who]))
            out.append('<text x="%.1f" y="%d">%s</text>' % (
                left + w + 6, by + 13, escape(raw if val is not None else "no data")))
        col = status_col.get(r["status"], "#4a5568")
        out.append('<text x="%d" y="%d">ratio %s</text>' % (left + barw + 90, y + 33, escape(r["ratio"])))
        out.append('<text x="%d" y="%d" fill="%s" font-weight="bold">%s%s</text>' % (
            left + barw + 90, y + 55, col, escape(r["status"] if r["status"] != "-" else "information"),
            escape(" (target %s)" % r["target"]) if r["target"] != "-" else ""))
        out.append('</g>')
    out.append('</svg>')
    return "\n".join(out) + "\n"


def write_result(rows_path, name, title, setup, notes_dir, outdir):
    """Writes NAME.csv, NAME.md and NAME.svg; prints the markdown table."""
    rows = read_rows(rows_path)
    notes = []
    if notes_dir and os.path.isdir(notes_dir):
        for f in sorted(os.listdir(notes_dir)):
            notes.append(open(os.path.join(notes_dir, f), encoding="utf-8", errors="replace").read().strip("\n"))
    os.makedirs(outdir, exist_ok=True)
    with open(os.path.join(outdir, name + ".csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(CSV_HEADER)
        for r in rows:
            w.writerow([r[k] for k in CSV_HEADER])
    open(os.path.join(outdir, name + ".svg"), "w").write(svg_chart(title, rows))
    table = md_table(rows)
    md = ["# %s" % title, "", machine(), "", setup, "", table, ""]
    for n in notes:
        md += [n, ""]
    md += ["![chart](%s.svg)" % name, ""]
    open(os.path.join(outdir, name + ".md"), "w").write("\n".join(md))
    print("== %s: %s" % (name, title))
    print(table)
    for n in notes:
        print()
        print(n)
    print("(%s)" % os.path.join(outdir, name + ".md"))


def write_skip(name, why, outdir):
    """Writes NAME.md saying SKIPPED and why; NAME.csv and NAME.svg go."""
    os.makedirs(outdir, exist_ok=True)
    for ext in (".csv", ".svg"):
        try:
            os.remove(os.path.join(outdir, name + ext))
        except FileNotFoundError:
            pass
    md = "# %s: SKIPPED\n\n%s\n\n%s%s\n" % (name, machine(), SKIP_MARK, why)
    open(os.path.join(outdir, name + ".md"), "w").write(md)
    print("SKIP %s: %s" % (name, why))


def skipped_why(path):
    """The reason a skipped bench's NAME.md gives, or None when it is not one."""
    try:
        for line in open(path, encoding="utf-8", errors="replace"):
            if line.startswith(SKIP_MARK):
                return line[len(SKIP_MARK):].strip()
    except OSError:
        pass
    return None


def summary(outdir):
    """Writes OUTDIR/SUMMARY.md (every result's rows, the skipped benches, the
    counts) and prints it."""
    lines = ["| bench | metric | voidbox | peer | ratio | target | status |", "|---|---|---|---|---|---|---|"]
    counts = {"met": 0, "MISSED": 0, "NO DATA": 0, "skipped": 0}
    names = set()
    for path in sorted(glob.glob(os.path.join(outdir, "*.csv"))):
        name = os.path.basename(path)[:-4]
        names.add(name)
        with open(path, newline="") as f:
            for r in csv.DictReader(f):
                st = r.get("status", "-")
                if st in counts:
                    counts[st] += 1
                unit = r.get("unit", "")
                peer = "%s: %s" % (r.get("peer", ""), fmt_value(r.get("peer_value", ""), unit))
                cells = ["[%s](%s.md)" % (name, name), r.get("metric", ""), fmt_value(r.get("voidbox", ""), unit),
                         peer, r.get("ratio", "-"), r.get("target", "-"), md_status(st)]
                lines.append("| " + " | ".join(md_cell(c) for c in cells) + " |")
    for path in sorted(glob.glob(os.path.join(outdir, "*.md"))):
        name = os.path.basename(path)[:-3]
        if name == "SUMMARY" or name in names:
            continue
        why = skipped_why(path)
        if why is None:
            continue
        counts["skipped"] += 1
        cells = ["[%s](%s.md)" % (name, name), "SKIPPED: " + why, "-", "-", "-", "-", "SKIPPED"]
        lines.append("| " + " | ".join(md_cell(c) for c in cells) + " |")
    tally = "%d met, %d MISSED, %d no data, %d skipped" % (
        counts["met"], counts["MISSED"], counts["NO DATA"], counts["skipped"])
    why = []
    if counts["MISSED"]:
        why = ["", "Why each MISSED target is missed, the profile that shows it and what it would take: "
               "[docs/bench.md](../../docs/bench.md#targets-missed-why-and-what-it-would-take)."]
    text = "\n".join(["# Benchmark summary", "", "Each bench's own page (linked) says which machine and tree "
                      "it ran on; ratio = voidbox / peer.", ""] + lines + ["", tally] + why + [""])
    os.makedirs(outdir, exist_ok=True)
    open(os.path.join(outdir, "SUMMARY.md"), "w").write(text)
    print("\n".join(lines))
    print(tally)


def replay(path, outdir, rename_from=None, rename_to=None):
    """Writes the results FILE's BENCH-EMIT lines describe; 1 when none."""
    import tempfile
    done = 0
    cur = None
    for line in open(path, encoding="utf-8", errors="replace"):
        line = line.rstrip("\r\n")
        if not line.startswith("BENCH-EMIT\t"):
            continue
        f = [urllib.parse.unquote(x) for x in line.split("\t")[1:]]
        op, args = f[0], f[1:]
        if op in ("begin", "skip") and args and args[0] == rename_from:
            args[0] = rename_to
        if op == "begin" and len(args) >= 3:
            cur = {"name": args[0], "title": args[1], "setup": args[2], "rows": [], "notes": []}
        elif op == "row" and cur is not None:
            cur["rows"].append((args + [""] * 7)[:7])
        elif op == "note" and cur is not None and args:
            cur["notes"].append(args[0])
        elif op == "end" and cur is not None:
            with tempfile.TemporaryDirectory() as d:
                rows = os.path.join(d, "rows")
                with open(rows, "w") as out:
                    for r in cur["rows"]:
                        out.write("\t".join(x.replace("\t", " ").replace("\n", " ") for x in r) + "\n")
                os.mkdir(os.path.join(d, "notes"))
                for i, n in enumerate(cur["notes"]):
                    open(os.path.join(d, "notes", "%04d" % i), "w").write(n + "\n")
                write_result(rows, cur["name"], cur["title"], cur["setup"], os.path.join(d, "notes"), outdir)
            cur = None
            done += 1
        elif op == "skip" and len(args) >= 2:
            write_skip(args[0], args[1], outdir)
            done += 1
    return 0 if done else 1


def main(argv):
    """Dispatches the sub-commands; 2 on a usage error."""
    if len(argv) == 8 and argv[1] == "result":
        write_result(*argv[2:])
    elif len(argv) == 5 and argv[1] == "skip":
        write_skip(*argv[2:])
    elif len(argv) == 3 and argv[1] == "summary":
        summary(argv[2])
    elif len(argv) in (4, 6) and argv[1] == "replay":
        return replay(*argv[2:])
    else:
        sys.stderr.write("usage: report.py result ROWS NAME TITLE SETUP NOTES_DIR OUTDIR | skip NAME WHY OUTDIR"
                         " | summary OUTDIR | replay FILE OUTDIR [FROM TO]\n")
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
