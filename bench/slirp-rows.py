"""The rows of bench/slirp-vs-pasta.sh: reads the "key value" lines each
round wrote to DIR/STACK.MODE (stacks vb, pasta, lo; modes quiet, busy),
takes medians per key and prints one tab-separated row per figure and peer:
metric, unit, voidbox value, peer name, peer value, target on the ratio
voidbox/peer (the issue's targets; '-' for information only). Lines that
start with "note<TAB>" are notes for under the table."""
import statistics
import sys


def load(path):
    """Medians per key of the positive values in one stack's rounds."""
    d = {}
    try:
        for line in open(path):
            k, v = line.split()
            if float(v) > 0:
                d.setdefault(k, []).append(float(v))
    except OSError:
        pass
    return {k: statistics.median(v) for k, v in d.items()}


def fmt(v):
    return "-" if v is None else ("%.3g" % v if v < 100 else "%.0f" % v)


def main(t):
    m = {(s, mo): load(f"{t}/{s}.{mo}") for s in ("vb", "pasta", "lo") for mo in ("quiet", "busy")}
    rows = []

    def row(metric, unit, k, mode, peer, pstack, pmode, target, div=1):
        a, b = m[("vb", mode)].get(k), m[(pstack, pmode)].get(k)
        rows.append((metric, unit, fmt(a and a / div), peer, fmt(b and b / div), target))

    for k, name in (("tput_up", "upload (guest -> host)"), ("tput_down", "download (host -> guest)")):
        row(name, "Gbit/s", k, "quiet", "host loopback", "lo", "quiet", ">=0.9", 1e9)
        row(name, "Gbit/s", k, "quiet", "pasta", "pasta", "quiet", ">=1.5", 1e9)
    for k, name in (("rr_p50", "1-byte RR p50"), ("rr_p99", "1-byte RR p99"), ("crr_p50", "CRR p50")):
        row(name, "us", k, "quiet", "pasta", "pasta", "quiet", "<=0.8")
        row(name, "us", k, "quiet", "host loopback", "lo", "quiet", "-")
    row("connections/s", "1/s", "crr_per_s", "quiet", "pasta", "pasta", "quiet", ">=1.2")
    row("connections/s", "1/s", "crr_per_s", "quiet", "host loopback", "lo", "quiet", "-")
    for k, name in (("tput_up", "upload"), ("tput_down", "download")):
        row("contended: " + name, "Gbit/s", k, "busy", "pasta, contended", "pasta", "busy", "-", 1e9)
    row("contended: 1-byte RR p50", "us", "rr_p50", "busy", "pasta, contended", "pasta", "busy", "-")
    row("contended: 1-byte RR p99", "us", "rr_p99", "busy", "pasta, contended", "pasta", "busy", "<=1.0")
    row("contended: 1-byte RR p99", "us", "rr_p99", "busy", "voidbox, quiet", "vb", "quiet", "<=2.0")
    row("contended: CRR p50", "us", "crr_p50", "busy", "pasta, contended", "pasta", "busy", "-")
    row("contended: connections/s", "1/s", "crr_per_s", "busy", "pasta, contended", "pasta", "busy", ">=1.0")
    row("contended: connections/s", "1/s", "crr_per_s", "busy", "voidbox, quiet", "vb", "quiet", ">=0.5")
    row("contended: 1-byte RR p99", "us", "rr_p99", "busy", "host loopback, contended", "lo", "busy", "-")
    row("contended: connections/s", "1/s", "crr_per_s", "busy", "host loopback, contended", "lo", "busy", "-")
    for r in rows:
        print("\t".join(r))
    # What contention does with no stack at all: the scheduler's share.
    for s, name in (("lo", "Host loopback"), ("pasta", "pasta"), ("vb", "voidbox")):
        q, b = m[(s, "quiet")], m[(s, "busy")]
        if all(k in d for d in (q, b) for k in ("rr_p99", "crr_per_s")):
            print("note\t%s, quiet -> contended: RR p99 %s -> %s us (%.1fx), connections/s %s -> %s (%.2fx)."
                  % (name, fmt(q["rr_p99"]), fmt(b["rr_p99"]), b["rr_p99"] / q["rr_p99"],
                     fmt(q["crr_per_s"]), fmt(b["crr_per_s"]), b["crr_per_s"] / q["crr_per_s"]))


if __name__ == "__main__":
    main(sys.argv[1])
