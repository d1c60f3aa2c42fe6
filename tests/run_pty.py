#!/usr/bin/env python3
"""Drives `voidbox run -t ...` (argv) on a pty of its own, as a terminal
would: sets the window to 33x101, sends Ctrl-C once the guest printed READY
(if it does), and prints what the command wrote, "EXIT <code>", and whether
the terminal's settings after the run equal those before it started
(RESTORED/CHANGED). Used by tests/run-agent.sh and tests/run-vm.sh."""
import fcntl, os, select, struct, sys, termios, time

argv = sys.argv[1:]
master, slave = os.openpty()
fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack('HHHH', 33, 101, 0, 0))
before = termios.tcgetattr(slave)
pid = os.fork()
if pid == 0:
    os.close(master)
    os.setsid()
    fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
    for i in range(3):
        os.dup2(slave, i)
    os.execv(argv[0], argv)
def read_some(timeout):
    """What the master has within timeout seconds; None at EOF/EIO."""
    r, _, _ = select.select([master], [], [], timeout)
    if not r:
        return b''
    try:
        return os.read(master, 4096) or None
    except OSError:
        return None

out = b''
sent = False
deadline = time.time() + 60
while time.time() < deadline:
    d = read_some(0.2)
    if d is None:
        break
    out += d
    if b'READY' in out and not sent:
        os.write(master, b'\x03')
        sent = True
    if sent or b'READY' not in out:
        p, st = os.waitpid(pid, os.WNOHANG)
        if p:
            break
else:
    p, st = 0, 0
if not p:
    _, st = os.waitpid(pid, 0)
while True:
    d = read_some(0)
    if not d:
        break
    out += d
after = termios.tcgetattr(slave)
print(out.decode(errors='replace').replace('\r', ''))
print('EXIT', os.waitstatus_to_exitcode(st))
print('RESTORED' if before == after else 'CHANGED')
