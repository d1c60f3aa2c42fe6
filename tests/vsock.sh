#!/bin/sh
# The vsock device and the vhost-user server against Linux: boots Debian's
# kernel under qemu TCG (microvm, memfd memory, vhost-user-vsock-device)
# with tests/tools/vsock-vhost as the back end and tests/tools/vsock-guest
# as the guest's init, then, in one boot:
#   vsock_boot             the guest's vsock driver comes up on our device
#   vsock_host_echo        host-initiated CONNECT, "OK <port>", echo
#   vsock_connect_refused  CONNECT to a port nobody listens on: closed, no OK
#   vsock_host_bulk        8 MiB each way through the guest's echo, sha256,
#                          with a slow host reader (credit + backpressure)
#   vsock_guest_initiated  the guest dials host port 6000 -> <uds>_6000,
#                          4 MiB each way byte-exact
#   vsock_guest_refused    the guest dials a port with no listener: ECONNRESET
#   vsock_many             16 connections at once, each echoed
#   vsock_poweroff         the guest powers off, the back end sees qemu hang up
#   vsock_backend_clean    no bad packets, no credit violations, device not
#                          failed, credit stalls seen during the slow read
. tests/lib.sh

need_guest vsock_boot || exit 0
need_cmd vsock_boot qemu-system-x86_64 || exit 0
need_cmd vsock_boot python3 || exit 0
for t in vsock-guest vsock-vhost; do
	[ -x "$TOOLS/$t" ] || { skip vsock_boot "$TOOLS/$t not built (make check builds it)"; exit 0; }
done
if ! "$VOIDBOX" mkinitramfs --kernel "$GUEST_DIR/vmlinuz" \
	--add "$TOOLS/vsock-guest:/vsock-guest:0755" -o "$TMP/initrd" 2>"$TMP/mkinitramfs.err"; then
	fail vsock_boot "mkinitramfs: $(tail -n 1 "$TMP/mkinitramfs.err")"
	exit 0
fi

KHZ=$(host_tsc_khz) TOOLS=$TOOLS GUEST_DIR=$GUEST_DIR TMP=$TMP \
	timeout -k 5 300 python3 - <<'EOF'
import hashlib, os, random, select, socket, subprocess, sys, threading, time

TMP, TOOLS, GUEST = os.environ["TMP"], os.environ["TOOLS"], os.environ["GUEST_DIR"]
KHZ = os.environ["KHZ"]
VHOST, UDS = TMP + "/vb-vsock-vhost.sock", TMP + "/vb-vsock.sock"
procs = []

def out(line):
    print(line, flush=True)

def fail_all(why, names):
    for n in names:
        out("FAIL %s: %s" % (n, why))

def start_backend(tag):
    be = subprocess.Popen([TOOLS + "/vsock-vhost", "--vhost", VHOST, "--uds", UDS],
                          stdout=subprocess.PIPE, stderr=open(TMP + "/backend-%s.log" % tag, "w"))
    procs.append(be)
    r, _, _ = select.select([be.stdout], [], [], 10)
    if not r or be.stdout.readline().strip() != b"READY":
        return None
    return be

class Console:
    """Collects qemu's serial output; wait() blocks until a line appears."""
    def __init__(self, p):
        self.lines, self.cv = [], threading.Condition()
        threading.Thread(target=self.run, args=(p,), daemon=True).start()
    def run(self, p):
        for raw in iter(p.stdout.readline, b""):
            with self.cv:
                self.lines.append(raw.decode(errors="replace").rstrip())
                self.cv.notify_all()
    def wait(self, needle, timeout):
        end = time.monotonic() + timeout
        with self.cv:
            while True:
                for l in self.lines:
                    if needle in l:
                        return l
                left = end - time.monotonic()
                if left <= 0:
                    return None
                self.cv.wait(left)
    def tail(self, n=3):
        with self.cv:
            return " | ".join(self.lines[-n:])

def start_qemu():
    q = subprocess.Popen(
        ["qemu-system-x86_64", "-M", "microvm,acpi=on", "-accel", "tcg", "-cpu", "max",
         "-m", "256", "-nographic", "-no-reboot",
         "-global", "virtio-mmio.force-legacy=false",
         "-object", "memory-backend-memfd,id=mem,size=256M,share=on", "-numa", "node,memdev=mem",
         "-chardev", "socket,id=c,path=" + VHOST, "-device", "vhost-user-vsock-device,chardev=c",
         "-kernel", GUEST + "/vmlinuz", "-initrd", TMP + "/initrd",
         "-append", "console=ttyS0 quiet tsc_early_khz=%s rdinit=/vsock-guest" % KHZ],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    procs.append(q)
    return q, Console(q)

def dial(port, timeout=30):
    """Host-initiated connection to guest port; returns (sock, local port) or (sock, None)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(UDS)
    s.sendall(b"CONNECT %d\n" % port)
    line = b""
    while not line.endswith(b"\n"):
        c = s.recv(1)
        if not c:
            return s, None
        line += c
    parts = line.split()
    if len(parts) != 2 or parts[0] != b"OK":
        return s, None
    return s, int(parts[1])

def recv_line(s):
    line = b""
    while not line.endswith(b"\n"):
        c = s.recv(1)
        if not c:
            break
        line += c
    return line.decode().strip()

def pump(s, total, slow_until=0, seed=1):
    """Writes total pseudo-random bytes to s from a thread while reading the
    echo (slowly for the first slow_until bytes); returns (sent sha, got sha,
    bytes got, seconds)."""
    rnd = random.Random(seed)
    data = rnd.randbytes(total)
    sent = hashlib.sha256(data).hexdigest()
    err = []
    def writer():
        try:
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)
        except OSError as e:
            err.append(e)
    t0 = time.monotonic()
    w = threading.Thread(target=writer, daemon=True)
    w.start()
    h, got = hashlib.sha256(), 0
    while True:
        b = s.recv(16384 if got < slow_until else 262144)
        if not b:
            break
        h.update(b)
        got += len(b)
        if got < slow_until:
            time.sleep(0.003)  # a slow reader, to exhaust credit (not a readiness wait)
    w.join(30)
    return sent, h.hexdigest(), got, time.monotonic() - t0, err

names_boot = ["vsock_boot", "vsock_host_echo", "vsock_connect_refused", "vsock_host_bulk",
              "vsock_guest_initiated", "vsock_guest_refused", "vsock_many", "vsock_poweroff",
              "vsock_backend_clean"]
be = start_backend("main")
if not be:
    fail_all("back end did not start: see backend log", names_boot)
    sys.exit(0)
q, con = start_qemu()
try:
    ready = con.wait("VSOCK-GUEST", 90)
    if not ready or "READY" not in ready:
        fail_all("guest not ready: %s" % (ready or con.tail()), names_boot)
        raise SystemExit
    out("PASS vsock_boot")

    s, port = dial(1234)
    if port is None or port < (1 << 30):
        out("FAIL vsock_host_echo: no OK line (port %s)" % port)
    else:
        s.sendall(b"hello vsock\n")
        out("PASS vsock_host_echo" if recv_line(s) == "hello vsock"
            else "FAIL vsock_host_echo: echo differs")
    s.close()

    s, port = dial(7777)
    out("PASS vsock_connect_refused" if port is None
        else "FAIL vsock_connect_refused: got OK %s" % port)
    s.close()

    s, port = dial(1234)
    if port is None:
        out("FAIL vsock_host_bulk: CONNECT failed")
    else:
        total = 8 << 20
        sent, got_h, got, secs, err = pump(s, total, slow_until=2 << 20, seed=7)
        if sent == got_h and got == total and not err:
            out("PASS vsock_host_bulk")
            print("# vsock: 8 MiB echoed in %.2f s (%.1f MiB/s each way, slow reader for 2 MiB)"
                  % (secs, 8 / secs), file=sys.stderr)
        else:
            out("FAIL vsock_host_bulk: got %d of %d bytes, sha %s, errors %s"
                % (got, total, "equal" if sent == got_h else "differs", err))
    s.close()

    ls = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    ls.bind(UDS + "_6000")
    ls.listen(1)
    ls.settimeout(30)
    ctl, port = dial(1240)
    if port is None:
        fail_all("control CONNECT failed", ["vsock_guest_initiated", "vsock_guest_refused"])
    else:
        ctl.sendall(b"DIAL 6000\n")
        try:
            c, _ = ls.accept()
            c.settimeout(60)
            st = recv_line(ctl)
            total = 4 << 20
            sent, got_h, got, secs, err = pump(c, total, seed=9)
            done = recv_line(ctl)
            if st == "DIALED" and sent == got_h and got == total and done == "DIAL-DONE %d" % total:
                out("PASS vsock_guest_initiated")
            else:
                out("FAIL vsock_guest_initiated: %s / %s, got %d of %d, sha %s"
                    % (st, done, got, total, "equal" if sent == got_h else "differs"))
            c.close()
        except OSError as e:
            out("FAIL vsock_guest_initiated: %s" % e)
        ctl.sendall(b"DIALFAIL 6001\n")
        r = recv_line(ctl)
        out("PASS vsock_guest_refused" if r == "ERR 104"
            else "FAIL vsock_guest_refused: guest got %r, want ECONNRESET (104)" % r)
    ls.close()

    socks, bad = [], 0
    for i in range(16):
        s, port = dial(1234)
        if port is None:
            bad += 1
        socks.append(s)
    for i, s in enumerate(socks):
        s.sendall(b"conn %d\n" % i)
    for i, s in enumerate(socks):
        try:
            if recv_line(s) != "conn %d" % i:
                bad += 1
        except OSError:
            bad += 1
        s.close()
    out("PASS vsock_many" if not bad else "FAIL vsock_many: %d of 16 connections wrong" % bad)

    if port is not None:
        ctl.sendall(b"EXIT\n")
        recv_line(ctl)
    try:
        q.wait(60)
        rc = be.wait(20)
        out("PASS vsock_poweroff" if rc == 0
            else "FAIL vsock_poweroff: back end exited %d" % rc)
    except subprocess.TimeoutExpired:
        out("FAIL vsock_poweroff: qemu or back end still running: %s" % con.tail())
    log = open(TMP + "/backend-main.log").read()
    stats = dict(kv.split("=") for l in log.splitlines() if " stats " in l
                 for kv in l.split(" stats ")[1].split())
    print("# vsock back end: " + " ".join(l for l in log.splitlines() if "stats" in l),
          file=sys.stderr)
    problems = [k for k in ("bad_pkts", "credit_violations", "rst_dropped", "failed")
                if stats.get(k, "x") != "0"]
    if stats.get("credit_stalls", "0") == "0":
        problems.append("no credit stall during the slow read")
    out("PASS vsock_backend_clean" if stats and not problems
        else "FAIL vsock_backend_clean: %s (%s)" % (", ".join(problems) or "no stats", log[-300:]))
except SystemExit:
    pass
finally:
    for p in procs:
        if p.poll() is None:
            p.kill()
            p.wait()
EOF
rc=$?
[ $rc -eq 0 ] || echo "FAIL vsock_driver: python driver exited $rc (timeout?)"
