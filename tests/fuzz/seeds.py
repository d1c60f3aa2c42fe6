#!/usr/bin/env python3
"""Writes the hand-made seed inputs of the fuzz targets into
tests/fuzz/corpus/<target>/seed-*: well-formed examples of what each target
parses (rings with chains, vsock packets, vhost-user sessions, register
sequences, protocol frames, cpio archives, captures, ELF and bzImage
headers, guest frames), from which `make fuzz` grows the rest. The
committed corpora are these seeds plus what short fuzzing runs added and
`-merge=1` kept. Usage: python3 tests/fuzz/seeds.py [corpus folder]."""
import os
import struct
import subprocess
import sys
import tempfile

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "corpus")
GPA = 0x100000  # FZ_GPA in fuzz.h


def put(target, name, data):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(data)


# --- guest memory with rings (fuzz.h's layout) -------------------------------
class Mem:
    def __init__(self, size=4096):
        self.b = bytearray(size)

    def w(self, off, data):
        if off + len(data) > len(self.b):
            self.b.extend(bytes(off + len(data) - len(self.b)))
        self.b[off:off + len(data)] = data


def qbase(qi, num):
    return qi * (32 * num + 32)


def ring(mem, qi, num, chains, base_buf):
    """chains: list of lists of (len, write, payload). Writes descriptors,
    publishes the heads, returns the next free buffer offset."""
    b = qbase(qi, num)
    desc, avail = b, b + 16 * num
    d = 0
    buf = base_buf
    heads = []
    for ch in chains:
        heads.append(d)
        for i, (ln, wr, payload) in enumerate(ch):
            flags = (1 if i + 1 < len(ch) else 0) | (2 if wr else 0)
            nxt = d + 1 if i + 1 < len(ch) else 0
            mem.w(desc + 16 * d, struct.pack("<QIHH", GPA + buf, ln, flags, nxt))
            if payload:
                mem.w(buf, payload)
            buf += (ln + 15) & ~15
            d += 1
    mem.w(avail, struct.pack("<HH", 0, len(heads)))
    for i, h in enumerate(heads):
        mem.w(avail + 4 + 2 * i, struct.pack("<H", h))
    return buf


def eth_ip(proto, src, dst, l4, dmac=b"\x52\x54\x00\x12\x34\x01"):
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(l4), 1, 0x4000, 64, proto, 0,
                     bytes(map(int, src.split("."))), bytes(map(int, dst.split("."))))
    s = sum(struct.unpack("!10H", ip))
    s = (s & 0xffff) + (s >> 16)
    s = (s & 0xffff) + (s >> 16)
    ip = ip[:10] + struct.pack("!H", ~s & 0xffff) + ip[12:]
    return dmac + b"\x52\x54\x00\x12\x34\x56\x08\x00" + ip + l4


def tcp(sport, dport, seq, ack, flags, data=b""):
    return struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 5 << 4, flags, 65535, 0, 0) + data


def udp(sport, dport, data):
    return struct.pack("!HHHH", sport, dport, 8 + len(data), 0) + data


def icmp_echo(ident, seq, data=b"ping"):
    m = struct.pack("!BBHHH", 8, 0, 0, ident, seq) + data
    s = sum(struct.unpack("!%dH" % (len(m) // 2), m + (b"\0" if len(m) % 2 else b"")))
    s = (s & 0xffff) + (s >> 16)
    s = (s & 0xffff) + (s >> 16)
    return m[:2] + struct.pack("!H", ~s & 0xffff) + m[4:]


DNSQ = struct.pack("!HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0) + b"\x04test\x02vb\x00" + struct.pack("!HH", 1, 1)
ARP = (b"\xff" * 6 + b"\x52\x54\x00\x12\x34\x56\x08\x06" + struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1) +
       b"\x52\x54\x00\x12\x34\x56" + bytes([10, 0, 2, 15]) + b"\0" * 6 + bytes([10, 0, 2, 2]))
IPV6 = b"\x52\x54\x00\x12\x34\x01\x52\x54\x00\x12\x34\x56\x86\xdd" + b"\x60" + b"\0" * 39


def frames_slirp():
    gw, dns = "10.0.2.2", "10.0.2.3"
    return {
        "arp": [ARP],
        "icmp-gw": [eth_ip(1, "10.0.2.15", gw, icmp_echo(7, 1))],
        "tcp-syn": [eth_ip(6, "10.0.2.15", gw, tcp(40000, 7, 999, 0, 0x02))],
        "tcp-conn": [eth_ip(6, "10.0.2.15", gw, tcp(40000, 7, 999, 0, 0x02)),
                     eth_ip(6, "10.0.2.15", gw, tcp(40000, 7, 1000, 1, 0x10)),
                     eth_ip(6, "10.0.2.15", gw, tcp(40000, 7, 1000, 1, 0x18, b"hello")),
                     eth_ip(6, "10.0.2.15", gw, tcp(40000, 7, 1005, 1, 0x11))],
        "udp": [eth_ip(17, "10.0.2.15", gw, udp(5000, 7, b"echo me"))],
        "dns": [eth_ip(17, "10.0.2.15", dns, udp(5353, 53, DNSQ))],
        "dns-tcp": [eth_ip(6, "10.0.2.15", dns, tcp(40001, 53, 5, 0, 0x02))],
        "ipv6": [IPV6],
        "refused": [eth_ip(6, "10.0.2.15", "169.254.169.254", tcp(40002, 80, 1, 0, 0x02)),
                    eth_ip(17, "10.0.2.15", "10.0.2.99", udp(1, 2, b"x"))],
        "frag": [eth_ip(17, "10.0.2.15", gw, udp(5000, 7, b"frag"))[:20] + b"\x20" +
                 eth_ip(17, "10.0.2.15", gw, udp(5000, 7, b"frag"))[21:]],
    }


def slirp():
    for name, frs in frames_slirp().items():
        for flags in (0, 1 | 4 | 16):
            body = struct.pack("<HBI", 1500 - 576, flags, 0)
            for fr in frs:
                body += struct.pack("<H", len(fr)) + fr
            put("slirp", "%s-%d" % (name, flags), body)


def vq():
    for num_lg, ev, ind in ((3, 0, 0), (2, 1, 0), (4, 0, 1), (3, 7, 2)):
        num = 1 << num_lg
        m = Mem(2048)
        ring(m, 0, num, [[(32, 0, b"r" * 32), (64, 1, None)], [(16, 0, b"x" * 16)]], 0x400)
        if ind & 1:  # an indirect table as a third chain
            b = qbase(0, num)
            m.w(b + 16 * 3, struct.pack("<QIHH", GPA + 0x600, 32, 4, 0))
            m.w(0x600, struct.pack("<QIHH", GPA + 0x700, 8, 1, 1) + struct.pack("<QIHH", GPA + 0x708, 8, 2, 0))
            m.w(b + 16 * num + 2, struct.pack("<H", 3))
            m.w(b + 16 * num + 8, struct.pack("<H", 3))
        put("vq", "n%d-ev%d-ind%d" % (num, ev, ind), bytes([num_lg, ev, ind]) + bytes(m.b))


def vnet():
    hdr = bytes(12)
    frame = eth_ip(17, "10.0.2.15", "10.0.2.2", udp(1, 2, b"frame"))
    for feat in (0, 1, 3, 31):
        num = 8
        m = Mem(4096)
        nxt = ring(m, 0, num, [[(2048, 1, None)], [(12, 1, None), (1500, 1, None)]], 0x600)
        ring(m, 1, num, [[(12 + len(frame), 0, hdr + frame)],
                         [(12, 0, hdr), (len(frame), 0, frame)]], (nxt + 0x100) & ~0xff)
        ctl = bytes([feat, 3, 3]) + struct.pack("<H", 1501) + struct.pack("<4H", 60, 1514, 9000, 0)
        put("vnet", "feat%d" % feat, ctl + bytes(m.b))


def vsock_hdr(op, sport, dport, ln=0, flags=0, src_cid=3, dst_cid=2):
    return struct.pack("<QQIIIHHIII", src_cid, dst_cid, sport, dport, ln, 1, op, flags, 65536, 0)


def vsock_mem(tx_pkts):
    num = 8
    m = Mem(4096)
    rx = [[(44, 1, None), (256, 1, None)] for _ in range(3)]
    nxt = ring(m, 0, num, rx, 0x800)
    ring(m, 1, num, [[(len(p), 0, p)] for p in tx_pkts], nxt)
    return bytes([3, 3]) + bytes(m.b)


def vsock():
    req = vsock_hdr(1, 5000, 1024)
    data = vsock_hdr(5, 5000, 1024, 5) + b"hello"
    shut = vsock_hdr(4, 5000, 1024, flags=3)
    for name, pkts in (("request", [req]), ("req-data", [req, data]), ("req-data-shut", [req, data, shut]),
                       ("credit", [req, vsock_hdr(7, 5000, 1024)]), ("rst", [vsock_hdr(3, 5000, 1024)]),
                       ("badcid", [vsock_hdr(1, 5000, 1024, src_cid=9)])):
        for ans in (b"", b"answer"):
            put("vsock_guest", "%s-%d" % (name, len(ans)), bytes([len(ans)]) + ans + vsock_mem(pkts))
    local = 1 << 30
    for name, line, pkts in (
            ("connect", b"CONNECT 1024\n", []),
            ("connect-resp", b"CONNECT 1024\nhi", [vsock_hdr(2, 1024, local)]),
            ("connect-rst", b"CONNECT 1024\n", [vsock_hdr(3, 1024, local)]),
            ("connect-data", b"CONNECT 1024\n", [vsock_hdr(2, 1024, local), vsock_hdr(5, 1024, local, 3) + b"abc",
                                                vsock_hdr(4, 1024, local, flags=3)]),
            ("badline", b"CONNECT x\n", []), ("longline", b"CONNECT " + b"9" * 40 + b"\n", [])):
        put("vsock_host", name, bytes([len(line)]) + line + vsock_mem(pkts))


def vu(req, body=b"", flags=1):
    return struct.pack("<III", req, flags, len(body)) + body


def vhost():
    uaddr = 0x7f0000000000
    mem = struct.pack("<II", 1, 0) + struct.pack("<QQQQ", 0, 1 << 20, uaddr, 0)
    st = lambda i, n: struct.pack("<II", i, n)
    addr = lambda i: struct.pack("<IIQQQQ", i, 0, uaddr + 0x1000 * (i + 1), uaddr + 0x1000 * (i + 1) + 0x800,
                                 uaddr + 0x1000 * (i + 1) + 0x400, 0)
    setup = (vu(1) + vu(3) + vu(15) + vu(16, struct.pack("<Q", 1 << 3)) + vu(2, struct.pack("<Q", (1 << 32) | (1 << 30))) +
             vu(5, mem, 1 | 8))
    for i in range(2):
        setup += vu(8, st(i, 64)) + vu(9, addr(i)) + vu(10, st(i, 0)) + vu(12, struct.pack("<Q", i)) + \
            vu(13, struct.pack("<Q", i)) + vu(18, st(i, 1))
    stop = vu(11, st(0, 0)) + vu(11, st(1, 0))
    for net in (0, 1):
        put("vhost", "session-%d" % net, bytes([net]) + setup + stop)
        put("vhost", "features-%d" % net, bytes([net]) + vu(1) + vu(15) + vu(17) + vu(36))
        put("vhost", "config-%d" % net, bytes([net]) + vu(24, struct.pack("<III", 0, 8, 0) + bytes(8)))
    put("vhost", "nofd-kick", bytes([0]) + vu(12, struct.pack("<Q", 0x100)))
    put("vhost", "big", bytes([0]) + struct.pack("<III", 5, 1, 4096))
    put("vhost", "stray-fds", bytes([1]) + vu(3, b"", 0x81))


def mmio():
    acc = []
    R = lambda off, ln=4: bytes([((ln.bit_length() - 1) << 1)]) + struct.pack("<H", off) + bytes(4)
    W = lambda off, v, ln=4: bytes([1 | ((ln.bit_length() - 1) << 1)]) + struct.pack("<HI", off, v)
    base = [R(0), R(4), R(8), R(0xc), W(0x70, 0), W(0x70, 1), W(0x70, 3), W(0x14, 0), R(0x10), W(0x14, 1), R(0x10),
            W(0x24, 1), W(0x20, 1), W(0x24, 0), W(0x20, 0x20), W(0x70, 11), R(0x70)]
    q = []
    for qi in range(2):
        b = GPA + qbase(qi, 8)
        q += [W(0x30, qi), R(0x34), W(0x38, 8), W(0x80, b), W(0x84, 0), W(0x90, b + 128), W(0x94, 0),
              W(0xa0, (b + 128 + 6 + 16 + 3) & ~3), W(0xa4, 0), W(0x44, 1)]
    tail = [W(0x70, 15), W(0x50, 1), R(0x60), W(0x64, 1), R(0x100, 1), R(0x104, 2), W(0x100, 0x12, 1), W(0x70, 0)]
    m = Mem(2048)
    ring(m, 1, 8, [[(12 + 42, 0, bytes(12) + ARP)]], 0x600)
    for name, seq in (("probe", base), ("setup", base + q), ("run", base + q + tail)):
        put("mmio", name, bytes([len(seq)]) + b"".join(seq) + bytes(m.b))


def proto_frame(t, payload=b""):
    return struct.pack("<IHH", len(payload), t, 0) + payload


def exec_payload(argv, env=(), workdir=b"", flags=0, uid=1000):
    p = struct.pack("<HHIIHHII", 1, flags, uid, uid, 24, 80, len(argv), len(env)) + workdir + b"\0"
    for s in list(argv) + list(env):
        p += s + b"\0"
    return p


def proto():
    ex = proto_frame(1, exec_payload([b"sh", b"-c", b"echo hi"], [b"FOO=bar"], b"/workspace"))
    put("proto_agent", "exec", ex)
    put("proto_agent", "exec-stdin", ex + proto_frame(2, b"input") + proto_frame(2))
    put("proto_agent", "exec-pty", proto_frame(1, exec_payload([b"ls"], flags=1)) + proto_frame(4, struct.pack("<HH", 40, 100)))
    put("proto_agent", "signal-poweroff", proto_frame(3, struct.pack("<I", 15)) + proto_frame(5))
    put("proto_agent", "badversion", proto_frame(1, b"\x02\x00" + exec_payload([b"x"])[2:]))
    put("proto_agent", "split", ex[:5])
    st = proto_frame(16, struct.pack("<I", 42))
    put("proto_client", "exit0", st + proto_frame(17, b"hi\n") + proto_frame(17) + proto_frame(18) +
        proto_frame(19, struct.pack("<II", 0, 0)))
    put("proto_client", "signal", st + proto_frame(19, struct.pack("<II", 137, 9)))
    put("proto_client", "error", proto_frame(20, struct.pack("<I", 127) + b"sh: not found \x1b[2J"))
    put("proto_client", "lost", st + proto_frame(17, b"partial"))
    put("proto_client", "unknown", proto_frame(99, b"x"))


def cpio():
    with tempfile.TemporaryDirectory() as d:
        os.makedirs(d + "/t/dir")
        with open(d + "/t/dir/file", "w") as f:
            f.write("hello\n")
        os.symlink("dir/file", d + "/t/link")
        for name, lst in (("file", "dir\ndir/file\n"), ("link", "dir\nlink\n"), ("empty", "")):
            out = subprocess.run(["cpio", "-o", "-H", "newc", "--quiet"], cwd=d + "/t", input=lst.encode(),
                                 capture_output=True).stdout
            put("cpio", name, out)
    put("cpio", "trailer-only", b"070701" + b"0" * 88 + b"0000000B" + b"0" * 8 + b"TRAILER!!!\0" + b"\0" * 3)


def pcap():
    frs = [ARP, eth_ip(6, "10.0.2.15", "10.0.2.2", tcp(40000, 80, 1, 0, 0x02)),
           eth_ip(17, "10.0.2.15", "10.0.2.3", udp(5353, 53, DNSQ)),
           eth_ip(1, "10.0.2.15", "10.0.2.2", icmp_echo(1, 1)), IPV6]
    for name, magic, endian in (("usec-le", 0xa1b2c3d4, "<"), ("nsec-le", 0xa1b23c4d, "<"), ("usec-be", 0xa1b2c3d4, ">")):
        out = struct.pack(endian + "IHHiIII", magic, 2, 4, 0, 0, 65535, 1)
        for i, fr in enumerate(frs):
            out += struct.pack(endian + "IIII", 1700000000 + i, 500, len(fr), len(fr)) + fr
        put("pcap", name, out)
    put("pcap", "raw-ip", struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 101) +
        struct.pack("<IIII", 1, 0, 40, 60) + frs[1][14:])
    put("pcap", "bare-frame", frs[2])


def bzimage():
    k = os.environ.get("VOIDBOX_KERNEL", os.path.join(os.path.dirname(__file__), "../../build/guest/vmlinuz"))
    try:
        with open(k, "rb") as f:
            head = f.read(16384)
    except OSError:
        return
    for n in (1024, 4096, 16384):
        put("bzimage", "head-%d" % n, head[:n])


def elf():
    with tempfile.TemporaryDirectory() as d:
        with open(d + "/t.c", "w") as f:
            f.write("int x = 1; const char modinfo[] __attribute__((section(\".modinfo\"))) = \"license=GPL\";\n"
                    "int f(void) { return x; }\n")
        for name, args in (("shared", ["-shared", "-fPIC", "-Wl,-rpath,/opt/lib", "-lz"]),
                           ("static-nolibc", ["-static", "-nostdlib", "-Wl,-e,f"])):
            if subprocess.run(["gcc", "-Os", "-s", "-o", d + "/o", d + "/t.c"] + args, capture_output=True).returncode == 0:
                with open(d + "/o", "rb") as f:
                    put("elf", name, f.read())
    put("elf", "header-only", b"\x7fELF\x02\x01\x01" + bytes(57))


for fn in (slirp, vq, vnet, vsock, vhost, mmio, proto, cpio, pcap, bzimage, elf):
    fn()
