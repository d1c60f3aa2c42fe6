#!/usr/bin/env python3
"""Compares `voidbox pcap` with tshark on one capture, for tests/pcap.sh.

  pcap_compare.py decode VOIDBOX PCAP [DNSPORT]  field by field, every frame
  pcap_compare.py stats  VOIDBOX PCAP            --stats against tshark's
                                                 per-frame fields, summed per flow
  pcap_compare.py filter VOIDBOX PCAP DNSPORT    --proto/--host/--port/-c
                                                 against tshark display filters
  pcap_compare.py fuzz VOIDBOX PCAP N             N randomly damaged copies: each
                                                 must end 0 or 1 (never a signal)
                                                 with at most one line of error
  pcap_compare.py rewrite IN OUT HOW             writes a variant of a capture:
      be, nsec, be-nsec (byte order, resolution), retrans (a SYN and a data
      segment sent twice), zero (a zero-length frame as frame 2), hugecap N
      (frame N's caplen 0xffffffff), snaplen N (the header's snaplen)

Prints one line per mismatch (at most 20) and "ok N" with the number of
checks made; exits 1 on any mismatch, 2 when a tool fails."""
import re
import struct
import subprocess
import sys
from decimal import Decimal

FIELDS = """frame.time_epoch frame.protocols frame.len
arp.opcode arp.src.proto_ipv4 arp.dst.proto_ipv4 arp.src.hw_mac
ip.src ip.dst ipv6.src ipv6.dst
tcp.srcport tcp.dstport tcp.seq_raw tcp.ack_raw tcp.flags tcp.window_size_value tcp.len
tcp.option_kind tcp.options.mss_val tcp.options.wscale.shift
tcp.options.timestamp.tsval tcp.options.timestamp.tsecr
udp.srcport udp.dstport udp.length
dns.id dns.flags.response dns.flags.rcode dns.qry.name dns.qry.type dns.count.answers
dns.a dns.aaaa dns.cname
icmp.type icmp.code icmp.ident icmp.seq icmpv6.type icmpv6.code
tcp.stream udp.stream tcp.flags.reset tcp.analysis.retransmission
tcp.analysis.fast_retransmission tcp.analysis.spurious_retransmission""".split()

DNS_TYPES = {"A": 1, "NS": 2, "CNAME": 5, "SOA": 6, "PTR": 12, "MX": 15, "TXT": 16,
             "AAAA": 28, "SRV": 33, "OPT": 41, "HTTPS": 65, "ANY": 255}
RCODES = {"FormErr": 1, "ServFail": 2, "NXDomain": 3, "NotImp": 4, "Refused": 5}
TCP_FLAGS = {"F": 0x01, "S": 0x02, "R": 0x04, "P": 0x08, ".": 0x10, "U": 0x20,
             "E": 0x40, "W": 0x80}
OPT_KINDS = {"eol": 0, "nop": 1, "mss": 2, "wscale": 3, "sackOK": 4, "sack": 5, "TS": 8}

mismatches = []
checks = 0


def run(cmd):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    err = [l for l in p.stderr.splitlines() if "Running as user" not in l]
    if p.returncode != 0 or err:
        print("tool failed: %s: %s" % (" ".join(cmd), " / ".join(err)[:300]))
        sys.exit(2)
    return p.stdout.splitlines()


def tshark(pcap, dns_port, fields, yfilter=None):
    cmd = ["tshark", "-n", "-r", pcap, "-T", "fields", "-E", "separator=\t",
           "-E", "occurrence=a", "-E", "aggregator=,"]
    if dns_port:
        cmd += ["-d", "udp.port==%s,dns" % dns_port, "-d", "tcp.port==%s,dns" % dns_port]
    if yfilter:
        cmd += ["-Y", yfilter]
    for f in fields:
        cmd += ["-e", f]
    rows = []
    for line in run(cmd):
        vals = line.split("\t")
        rows.append({f: (vals[i] if i < len(vals) else "") for i, f in enumerate(fields)})
    return rows


def first(v):
    return v.split(",")[0] if v else ""


def num(v):
    v = first(v)
    if v in ("True", "False"):
        return int(v == "True")
    return int(v, 0) if v else None


def check(frame, what, ours, theirs):
    global checks
    checks += 1
    if ours != theirs:
        mismatches.append("frame %d: %s: voidbox %r, tshark %r" % (frame, what, ours, theirs))


def top(protocols):
    """The network and transport protocol of a frame, e.g. ('ip', 'tcp')."""
    p = protocols.split(":")
    for i, x in enumerate(p):
        if x in ("arp", "ip", "ipv6"):
            rest = [y for y in p[i + 1:] if not y.startswith("ipv6.")]
            return x, (rest[0] if rest else "")
    return "", ""


def split_ep(ep):
    a, _, port = ep.rpartition(".")
    return a, int(port)


def parse_dns(n, text, t):
    m = re.match(r"(\d+)", text)
    check(n, "dns.id", int(m.group(1)) if m else None, num(t["dns.id"]))
    resp = bool(re.search(r" \d+/\d+/\d+", text))
    check(n, "dns.flags.response", int(resp), num(t["dns.flags.response"]))
    q = re.search(r" (\S+)\? (\S+)", text)
    check(n, "dns.qry.type", DNS_TYPES.get(q.group(1)) if q else None, num(t["dns.qry.type"]))
    check(n, "dns.qry.name", q.group(2).rstrip(".") if q else None, first(t["dns.qry.name"]))
    if resp:
        rc = re.match(r"\d+(?: op\d+)? (FormErr|ServFail|NXDomain|NotImp|Refused)", text)
        check(n, "dns.flags.rcode", RCODES[rc.group(1)] if rc else 0, num(t["dns.flags.rcode"]))
        cnt = re.search(r" (\d+)/\d+/\d+", text)
        check(n, "dns.count.answers", int(cnt.group(1)), num(t["dns.count.answers"]))
        # tshark lists the additional section's addresses too, after the
        # answers; voidbox (like tcpdump) prints the answers only.
        more = not re.search(r" \d+/0/0", text)
        split = lambda v, k: [x for x in v.split(",") if x][:k if more and k is not None else None]
        a, aaaa = re.findall(r" A ([0-9.]+)", text), re.findall(r" AAAA ([0-9a-f:]+)", text)
        check(n, "dns.a", a, split(t["dns.a"], len(a)))
        check(n, "dns.aaaa", aaaa, split(t["dns.aaaa"], len(aaaa)))
        check(n, "dns.cname", [c.rstrip(".") for c in re.findall(r" CNAME (\S+?)(?:,| \(|$)", text)],
              split(t["dns.cname"], None))


ICMP4 = [(r"echo request", 8, 0), (r"echo reply", 0, 0), (r" net unreachable", 3, 0),
         (r" host unreachable", 3, 1), (r" protocol \d+ unreachable", 3, 2),
         (r" port \d+ unreachable", 3, 3), (r" port unreachable", 3, 3),
         (r"time exceeded in-transit", 11, 0), (r"ip reassembly time exceeded", 11, 1)]
ICMP6 = [(r"echo request", 128, 0), (r"echo reply", 129, 0),
         (r"destination unreachable, unreachable address", 1, 3),
         (r"destination unreachable, unreachable port", 1, 4), (r"packet too big", 2, 0),
         (r"router solicitation", 133, 0), (r"router advertisement", 134, 0),
         (r"neighbor solicitation", 135, 0), (r"neighbor advertisement", 136, 0),
         (r"multicast listener report v2", 143, 0)]


def icmp_type_code(text, table):
    """The ICMP type and code a decoded line names."""
    for pat, ty, co in table:
        if re.search(pat, text):
            return ty, co
    m = re.search(r"type (\d+), code (\d+)", text)
    if m:
        return int(m.group(1)), int(m.group(2))
    m = re.search(r"(unreachable|time exceeded), code (\d+)", text)
    if m:
        v6 = table is ICMP6
        unreach = m.group(1) == "unreachable"
        return (1 if v6 else 3) if unreach else (3 if v6 else 11), int(m.group(2))
    return None, None


def decode(vb, pcap, dns_port):
    args = [vb, "pcap", "-S", "--time", "epoch"] + (["--dns-port", dns_port] if dns_port else []) + [pcap]
    ours = run(args)
    theirs = tshark(pcap, dns_port, FIELDS)
    check(0, "frame count", len(ours), len(theirs))
    for n, (line, t) in enumerate(zip(ours, theirs), 1):
        ts, rest = line.split(" ", 1)
        check(n, "time", Decimal(ts), Decimal(t["frame.time_epoch"]))
        l3, l4 = top(t["frame.protocols"])
        if l3 == "arp":
            m = re.match(r"ARP, Request who-has (\S+)(?: \(\S+\))? tell (\S+), length", rest)
            r = re.match(r"ARP, Reply (\S+) is-at (\S+), length", rest)
            check(n, "arp.opcode", 1 if m else 2 if r else None, num(t["arp.opcode"]))
            if m:
                check(n, "arp addresses", (m.group(2), m.group(1)),
                      (t["arp.src.proto_ipv4"], t["arp.dst.proto_ipv4"]))
            if r:
                check(n, "arp sender", (r.group(1), r.group(2)),
                      (t["arp.src.proto_ipv4"], t["arp.src.hw_mac"]))
            continue
        if l3 not in ("ip", "ipv6"):
            check(n, "not decoded mark", "[not decoded]" in rest, True)
            continue
        m = re.match(r"(IP6?) (\S+) > (\S+): (?:HBH |DSTOPT |srcrt |frag )*(.*)$", rest)
        check(n, "ip version", m.group(1) if m else None, "IP" if l3 == "ip" else "IP6")
        if not m:
            continue
        src, dst, body = m.group(2), m.group(3), m.group(4)
        tsrc = first(t["ip.src"] if l3 == "ip" else t["ipv6.src"])
        tdst = first(t["ip.dst"] if l3 == "ip" else t["ipv6.dst"])
        if l4 in ("tcp", "udp"):
            (src, sport), (dst, dport) = split_ep(src), split_ep(dst)
            check(n, "ports", (sport, dport),
                  (num(t[l4 + ".srcport"]), num(t[l4 + ".dstport"])))
        check(n, "addresses", (src, dst), (tsrc, tdst))
        if l4 == "tcp":
            tm = re.match(r"Flags \[(\S*)\](?:, seq (\d+)(?::(\d+))?)?(?:, ack (\d+))?, win (\d+)"
                          r"(?:, urg \d+)?(?:, options \[(.*?)\])?, length (\d+)(.*)$", body)
            if not tm:
                check(n, "tcp line", body, "parsable")
                continue
            flags = 0 if tm.group(1) == "none" else sum(TCP_FLAGS[c] for c in tm.group(1))
            check(n, "tcp.flags", flags, num(t["tcp.flags"]) & 0xff)
            if tm.group(2) or flags & 0x07 or int(tm.group(7)):
                check(n, "tcp.seq_raw", int(tm.group(2)) if tm.group(2) else None,
                      num(t["tcp.seq_raw"]))
            if flags & 0x10:
                check(n, "tcp.ack_raw", int(tm.group(4)) if tm.group(4) else None,
                      num(t["tcp.ack_raw"]))
            check(n, "tcp.window_size_value", int(tm.group(5)), num(t["tcp.window_size_value"]))
            check(n, "tcp.len", int(tm.group(7)), num(t["tcp.len"]))
            opts = tm.group(6).split(",") if tm.group(6) else []
            check(n, "tcp.option_kind", [OPT_KINDS.get(o.split(" ")[0]) for o in opts],
                  [int(k) for k in t["tcp.option_kind"].split(",") if k])
            o = {x.split(" ")[0]: x for x in opts}
            if "mss" in o:
                check(n, "mss", int(o["mss"].split()[1]), num(t["tcp.options.mss_val"]))
            if "wscale" in o:
                check(n, "wscale", int(o["wscale"].split()[1]),
                      num(t["tcp.options.wscale.shift"]))
            if "TS" in o:
                v = o["TS"].split()
                check(n, "TS", (int(v[2]), int(v[4])),
                      (num(t["tcp.options.timestamp.tsval"]), num(t["tcp.options.timestamp.tsecr"])))
            if t["dns.id"]:
                parse_dns(n, tm.group(8).strip(), t)
        elif l4 == "udp":
            if t["dns.id"] or "dns" in t["frame.protocols"].split(":"):
                parse_dns(n, body, t)
                ln = re.search(r"\((\d+)\)$", body)
            else:
                ln = re.match(r"UDP, length (\d+)$", body)
            check(n, "udp payload length", int(ln.group(1)) if ln else None,
                  num(t["udp.length"]) - 8)
        elif l4 in ("icmp", "icmpv6"):
            table = ICMP4 if l4 == "icmp" else ICMP6
            prefix = "ICMP " if l4 == "icmp" else "ICMP6, "
            check(n, "icmp prefix", body.startswith(prefix), True)
            ty, co = icmp_type_code(body, table)
            check(n, l4 + " type/code", (ty, co), (num(t[l4 + ".type"]), num(t[l4 + ".code"])))
            e = re.search(r"echo \w+, id (\d+), seq (\d+)", body)
            if e and l4 == "icmp":
                check(n, "icmp id/seq", (int(e.group(1)), int(e.group(2))),
                      (num(t["icmp.ident"]), num(t["icmp.seq"])))
        else:
            check(n, "not decoded mark", "[not decoded]" in body, True)


def stats(vb, pcap):
    ours = {}
    lines = run([vb, "pcap", "--stats", pcap])
    for line in lines:
        m = re.match(r"(tcp|udp) (\S+) <-> (\S+) packets (\d+) bytes (\d+) duration ([0-9.]+)"
                     r"(?: retransmissions (\d+) resets (\d+))?$", line)
        if m:
            key = (m.group(1), frozenset((m.group(2), m.group(3))))
            ours[key] = (int(m.group(4)), int(m.group(5)), Decimal(m.group(6)),
                         int(m.group(7) or 0), int(m.group(8) or 0))
    theirs = {}
    for t in tshark(pcap, None, FIELDS):
        l3, l4 = top(t["frame.protocols"])
        if l4 not in ("tcp", "udp"):
            continue
        fam = (lambda a, p: "[%s]:%s" % (a, p)) if l3 == "ipv6" else (lambda a, p: "%s:%s" % (a, p))
        s = first(t["ip.src"] or t["ipv6.src"])
        d = first(t["ip.dst"] or t["ipv6.dst"])
        key = (l4, frozenset((fam(s, first(t[l4 + ".srcport"])), fam(d, first(t[l4 + ".dstport"])))))
        ts = Decimal(t["frame.time_epoch"])
        p, b, lo, hi, r, rs = theirs.get(key, (0, 0, ts, ts, 0, 0))
        retr = any(t[f] for f in ("tcp.analysis.retransmission", "tcp.analysis.fast_retransmission",
                                  "tcp.analysis.spurious_retransmission"))
        theirs[key] = (p + 1, b + int(t["frame.len"]), min(lo, ts), max(hi, ts), r + int(retr),
                       rs + int(num(t["tcp.flags.reset"]) or 0))
    check(0, "flow set", sorted(map(str, ours)), sorted(map(str, theirs)))
    for key, (p, b, lo, hi, r, rs) in theirs.items():
        o = ours.get(key)
        if o:
            dur = (hi - lo).quantize(o[2])
            check(0, "flow %s %s" % (key[0], sorted(key[1])), o, (p, b, dur, r, rs))
    check(0, "summary line", bool(re.match(r"\d+ flows", lines[-1])) if lines else False, True)


def filters(vb, pcap, dns_port):
    not_icmp = " && !icmp && !icmpv6"
    cases = [
        (["--proto", "arp"], "arp"),
        (["--proto", "tcp"], "tcp" + not_icmp),
        (["--proto", "udp"], "udp" + not_icmp),
        (["--proto", "icmp"], "icmp || icmpv6"),
        (["--proto", "dns"], "dns" + not_icmp),
        (["--proto", "ip6"], "ipv6"),
        (["--proto", "arp", "--proto", "icmp"], "arp || icmp || icmpv6"),
        (["--host", "127.0.0.1"], "ip.addr==127.0.0.1"),
        (["--host", "::1"], "ipv6.addr==::1"),
        (["--host", "198.51.100.2"],
         "ip.addr==198.51.100.2 || arp.src.proto_ipv4==198.51.100.2 || arp.dst.proto_ipv4==198.51.100.2"),
        (["--port", "8000"], "(tcp.port==8000 || udp.port==8000)" + not_icmp),
        (["--port", "9"], "(tcp.port==9 || udp.port==9)" + not_icmp),
        (["--proto", "tcp", "--port", dns_port], "tcp.port==%s" % dns_port + not_icmp),
        (["--proto", "udp", "--host", "::1"], "udp && ipv6.addr==::1" + not_icmp),
    ]
    for args, yf in cases:
        ours = [l.split(" ")[0] for l in
                run([vb, "pcap", "--time", "epoch", "--dns-port", dns_port] + args + [pcap])]
        theirs = [str(Decimal(t["frame.time_epoch"]).quantize(Decimal(ours[0]) if ours else Decimal("0.000001")))
                  for t in tshark(pcap, dns_port, ["frame.time_epoch"], yf)]
        check(0, "filter %s vs -Y '%s'" % (" ".join(args), yf), ours, theirs)
    all_ = run([vb, "pcap", pcap])
    for c in (1, 3, len(all_), len(all_) + 5):
        check(0, "-c %d" % c, run([vb, "pcap", "-c", str(c), pcap]), all_[:c])


def read_pcap(path):
    """Returns (header fields, [(sec, usec, caplen, len, data)]) of a LE usec pcap."""
    b = open(path, "rb").read()
    hdr = list(struct.unpack("<IHHiIII", b[:24]))
    if hdr[0] != 0xA1B2C3D4:
        raise SystemExit("rewrite wants a little-endian microsecond pcap")
    recs, off = [], 24
    while off < len(b):
        sec, frac, cap, ln = struct.unpack("<IIII", b[off:off + 16])
        recs.append([sec, frac, cap, ln, b[off + 16:off + 16 + cap]])
        off += 16 + cap
    return hdr, recs


def rewrite(src, dst, how, arg):
    hdr, recs = read_pcap(src)
    order, nsec = "<", False
    if how in ("be", "be-nsec"):
        order = ">"
    if how in ("nsec", "be-nsec"):
        nsec = True
        hdr[0] = 0xA1B23C4D
        for r in recs:
            r[1] *= 1000
    if how == "retrans":
        syn = next(i for i, r in enumerate(recs) if len(r[4]) > 47 and r[4][23] == 6
                   and r[4][47] & 0x12 == 0x02)
        recs.insert(syn + 1, list(recs[syn]))
        data = next(i for i, r in enumerate(recs) if len(r[4]) > 66 + 12 and r[4][23] == 6
                    and (struct.unpack(">H", r[4][16:18])[0] - 20 - (r[4][46] >> 4) * 4) > 0)
        dup = list(recs[data])
        dup[0:2] = recs[data + 2][0:2]
        recs.insert(data + 3, dup)
    if how == "zero":
        recs.insert(1, [recs[0][0], recs[0][1], 0, 0, b""])
    if how == "hugecap":
        recs[int(arg) - 1][2] = 0xFFFFFFFF
    if how == "snaplen":
        hdr[5] = int(arg)
    out = [struct.pack(order + "IHHiIII", *hdr)]
    for sec, frac, cap, ln, data in recs:
        out.append(struct.pack(order + "IIII", sec, frac, cap, ln) + data)
    open(dst, "wb").write(b"".join(out))


def fuzz(vb, pcap, n):
    import random
    rnd = random.Random(1234)
    good = open(pcap, "rb").read()
    for i in range(n):
        b = bytearray(good)
        for _ in range(rnd.randint(1, 12)):
            b[rnd.randrange(len(b))] = rnd.randrange(256)
        if rnd.random() < 0.3:
            del b[rnd.randrange(len(b)):]
        p = subprocess.run([vb, "pcap", "--stats" if i % 5 == 0 else "-e", "-"], input=bytes(b),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        err = p.stderr.decode(errors="replace").splitlines()
        check(i, "exit status", p.returncode in (0, 1), True)
        check(i, "error lines", len(err) <= 1 and (p.returncode == 0) == (not err), True)
        if mismatches:
            open(pcap + ".fuzz-failed", "wb").write(b)
            break


def main():
    if len(sys.argv) >= 5 and sys.argv[1] == "rewrite":
        rewrite(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5] if len(sys.argv) > 5 else None)
        return
    if len(sys.argv) < 4:
        print(__doc__)
        sys.exit(2)
    mode, vb, pcap = sys.argv[1:4]
    extra = sys.argv[4] if len(sys.argv) > 4 else None
    {"decode": lambda: decode(vb, pcap, extra), "stats": lambda: stats(vb, pcap),
     "filter": lambda: filters(vb, pcap, extra),
     "fuzz": lambda: fuzz(vb, pcap, int(extra or 100))}[mode]()
    for m in mismatches[:20]:
        print(m)
    if mismatches:
        print("%d mismatches in %d checks" % (len(mismatches), checks))
        sys.exit(1)
    print("ok %d" % checks)


if __name__ == "__main__":
    main()
