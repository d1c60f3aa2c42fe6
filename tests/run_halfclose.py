#!/usr/bin/env python3
"""A raw protocol client (docs/protocol.md) that half-closes: connects to
SOCK (with "vsock" as second argument, through the vsock device's CONNECT
handshake), sends EXEC `sh -c 'sleep 1; echo hi; cat'` and one STDIN frame,
shuts its sending side, then reads to the end. Prints HALFCLOSE-OK when the
output and EXIT 0 arrived regardless. Used by run-agent.sh and run-vm.sh."""
import socket, struct, sys

def frame(t, p):
    return struct.pack('<IHH', len(p), t, 0) + p

def exec_payload(argv):
    strs = b'\0'.join([b'/tmp'] + [a.encode() for a in argv]) + b'\0'
    return struct.pack('<HHIIHHII', 1, 0, 1000, 1000, 0, 0, len(argv), 0) + strs

s = socket.socket(socket.AF_UNIX)
s.settimeout(30)
s.connect(sys.argv[1])
if len(sys.argv) > 2 and sys.argv[2] == 'vsock':
    s.sendall(b'CONNECT 1024\n')
    line = b''
    while not line.endswith(b'\n'):
        line += s.recv(1)
s.sendall(frame(1, exec_payload(['sh', '-c', 'sleep 1; echo hi; cat'])) + frame(2, b'input\n'))
s.shutdown(socket.SHUT_WR)
got = b''
while True:
    d = s.recv(4096)
    if not d:
        break
    got += d
ok = b'hi\n' in got and b'input\n' in got and frame(19, b'\0' * 8) in got
print('HALFCLOSE-OK' if ok else 'HALFCLOSE-BAD %r' % got[:200])
