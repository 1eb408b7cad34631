#!/usr/bin/env python3
"""The client of the keepalived pair test (Tests/Ops/pair-netns.sh), run inside the client
namespace: one request per new connection to the virtual address, RATE a second, until the
file STOP exists or SECONDS pass. One line per request on stdout, with the unix times at which
it started and at which it ended (a connection whose SYN the kernel retransmitted ends a second
or more after it started, so the gap between answers is measured on the end times):
    <start> <end> ok <backend>    (a 200, with its X-Backend header: which node served it)
    <start> <end> fail <why>      (refused, reset or timed out before the whole response,
                                   another status, or a response cut short)
"""
import socket
import sys
import time
import os

def complete(data, closed=False):
    """The response is whole once its Content-Length bytes of body are in, as an HTTP client
    judges it; a reset that arrives after that (the address moved while the connection was
    closing, and the other node answered its last ACK) loses nothing."""
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        return False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(body) >= int(value.strip())
    return closed  # no length: the close ends it


host, port, rate, limit, stop = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
gap = 1.0 / rate
start = time.time()
out = sys.stdout
while time.time() - start < limit and not os.path.exists(stop):
    t0 = time.time()
    try:
        s = socket.create_connection((host, port), timeout=3)
        s.settimeout(3)
        s.sendall(b"GET / HTTP/1.1\r\nHost: shop\r\nConnection: close\r\n\r\n")
        data, closed = b"", False
        while not complete(data):
            chunk = s.recv(65536)
            if not chunk:
                closed = True
                break
            data += chunk
        s.close()
        head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1")
        lines = head.split("\r\n")
        if not complete(data, closed):
            status = "incomplete"
        else:
            status = lines[0].split(" ")[1] if lines and len(lines[0].split(" ")) > 1 else "none"
        backend = "?"
        for line in lines[1:]:
            if line.lower().startswith("x-backend:"):
                backend = line.split(":", 1)[1].strip()
        if status == "200":
            out.write("%.3f %.3f ok %s\n" % (t0, time.time(), backend))
        else:
            out.write("%.3f %.3f fail status-%s\n" % (t0, time.time(), status))
    except Exception as e:  # refused, reset, timeout: each one a lost request
        out.write("%.3f %.3f fail %s\n" % (t0, time.time(), type(e).__name__))
    out.flush()
    spent = time.time() - t0
    if spent < gap:
        time.sleep(gap - spent)
