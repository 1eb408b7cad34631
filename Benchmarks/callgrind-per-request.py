#!/usr/bin/env python3
"""Instructions per proxied request under valgrind's callgrind: sluice builds vs HAProxy.

Usage: python3 Benchmarks/callgrind-per-request.py [--binary PATH]... [--haproxy] [--cached]
           [--requests 2000,12000] [--conns 1] [--repeat 3] [--backend-binary PATH]

--cached adds, per binary, the same run with the route cached (`default_ttl: 1h`): every
request after the first is a cache hit, so the figure is instructions per hit.

Each target runs under `valgrind --tool=callgrind` with one worker (the configs of
compare-haproxy.py: sluice `workers: 1`, no health checks, access log off; HAProxy
`nbthread 1`), in front of the built-in backend, which runs natively like the client.
The client (here, outside valgrind) sends exactly N keep-alive GETs over --conns
connections, one request in flight per connection; then the proxy gets SIGTERM and
callgrind writes its totals. Ir (instructions executed, all threads) is read from the
output for two request counts; (Ir(N2) - Ir(N1)) / (N2 - N1) cancels start-up and
shutdown and is the figure: instructions per request, median over --repeat rounds
(rounds interleave targets). Instruction counts do not depend on what else the machine
runs, so this is the figure to compare builds on a shared VM; CPU time is in
compare-haproxy.py.

Valgrind 3.19 cannot read the DWARF that Swift 6.3 writes, so each sluice binary is
copied to a temporary directory and stripped of debug info (`strip --strip-debug`;
symbols stay, so callgrind_annotate still names functions). Needs: valgrind, the release
build (`swift build -c release`), haproxy for --haproxy. Everything binds 127.0.0.1;
every process is stopped by its PID, each run is bounded by --timeout.

The proxy's stdout and stderr go to a file, never to an unread pipe, and the access log is
off: with the default access log on stdout and stdout a pipe nobody reads, the worker
blocks in write(2) once about 64 KiB are queued (about 270 responses), the client waits
forever and SIGTERM cannot finish the drain. That, not valgrind, is most likely what made a
second, larger run hang (a first run of 200 requests fits in the pipe). Valgrind itself ran
both request counts without a hang with --fair-sched yes and no, 1 to 50 connections, and
health checks on; --fair-sched (yes here) does not change the counts.
"""
import argparse, importlib.util, os, re, selectors, shutil, signal, socket, statistics, subprocess, sys, tempfile, time

HERE = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location("compare_haproxy", os.path.join(HERE, "compare-haproxy.py"))
cmp = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(cmp)

REQUEST = b"GET / HTTP/1.1\r\nHost: bench\r\n\r\n"


class Conn:
    """One keep-alive client connection: one request in flight, response framed by Content-Length."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), 5)
        self.sock.setblocking(False)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def response_done(self):
        """Pops one complete response from the buffer; returns its status, or None if incomplete."""
        end = self.buf.find(b"\r\n\r\n")
        if end < 0:
            return None
        head = self.buf[:end].decode("latin-1")
        m = re.search(r"\r\ncontent-length:\s*(\d+)", head, re.I)
        if not m:
            raise RuntimeError(f"response without Content-Length: {head!r}")
        total = end + 4 + int(m.group(1))
        if len(self.buf) < total:
            return None
        self.buf = self.buf[total:]
        return int(head.split(" ", 2)[1])


def send_requests(port, n, conns, deadline):
    """Sends exactly n requests over `conns` keep-alive connections; returns the non-200 count."""
    sel = selectors.DefaultSelector()
    sent = done = bad = 0
    open_conns = []
    for _ in range(min(conns, n)):
        c = Conn(port)
        open_conns.append(c)
        sel.register(c.sock, selectors.EVENT_READ, c)
        c.sock.sendall(REQUEST)
        sent += 1
    try:
        while done < n:
            if time.time() > deadline:
                raise TimeoutError(f"{done} of {n} responses before the deadline")
            for key, _ in sel.select(1.0):
                c = key.data
                data = c.sock.recv(65536)
                if not data:
                    raise RuntimeError(f"proxy closed a connection after {done} responses")
                c.buf += data
                while (status := c.response_done()) is not None:
                    done += 1
                    bad += status != 200
                    if sent < n:
                        c.sock.sendall(REQUEST)
                        sent += 1
    finally:
        for c in open_conns:
            sel.unregister(c.sock)
            c.sock.close()
    return bad


def cached_config(port, backend_port, tmp):
    """compare-haproxy.py's sluice config with the route cached: the backend's answer is
    stored by default_ttl, so every request after the first is a cache hit."""
    cfg = cmp.sluice_config(port, backend_port, tmp)
    with open(cfg) as f:
        text = f.read()
    text = text.replace("routes: [ { cluster: app } ]", "routes: [ { cluster: app, cache: { default_ttl: 1h } } ]")
    if "cache:" not in text:
        raise RuntimeError("the sluice config changed shape: cannot add the route's cache")
    with open(cfg, "w") as f:
        f.write(text)
    return cfg


def prepare_binary(path, tmp, label):
    """A debug-stripped copy of a sluice binary that valgrind 3.19 can read."""
    out = os.path.join(tmp, f"sluice-{label}")
    subprocess.run(["strip", "--strip-debug", "-o", out, path], check=True)
    return out


def total_ir(path):
    with open(path) as f:
        for line in f:
            if line.startswith(("summary:", "totals:")):
                return int(line.split()[1])
    raise RuntimeError(f"no totals in {path}")


def stop(p, timeout):
    """SIGTERM, then SIGKILL after `timeout` s; returns True when it exited by itself."""
    if p.poll() is not None:
        return True
    p.send_signal(signal.SIGTERM)
    try:
        p.wait(timeout)
        return True
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
        return False


def measure(label, command, config, n, a, backend_port, tmp, rnd):
    """One run under callgrind: start, exactly n requests, SIGTERM; returns total Ir."""
    port = cmp.free_port()
    cfg = config(port, backend_port, tmp)
    out = os.path.join(tmp, f"callgrind.{label}.{n}.{rnd}")
    log = open(out + ".log", "w")
    vg = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", f"--fair-sched={a.fair_sched}"]
    p = subprocess.Popen(["taskset", "-c", "1"] + vg + command(cfg), stdout=log, stderr=subprocess.STDOUT)
    deadline = time.time() + a.timeout
    try:
        if not cmp.wait_port(port, 120):
            raise RuntimeError(f"{label} did not listen within 120 s (see {out}.log)")
        bad = send_requests(port, n, a.conns, deadline)
        if bad:
            raise RuntimeError(f"{label}: {bad} of {n} responses were not 200")
        time.sleep(0.2)  # let the proxy see the clients' FINs before the signal
    finally:
        if not stop(p, max(10, deadline - time.time())):
            print(f"{label}: did not exit after SIGTERM; killed (see {out}.log)", file=sys.stderr)
        log.close()
    return total_ir(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary", action="append", default=[], metavar="PATH",
                    help="a sluice binary to measure (repeatable; default ROOT/.build/release/sluice)")
    ap.add_argument("--haproxy", action="store_true", help="also measure HAProxy the same way")
    ap.add_argument("--requests", default="2000,12000", help="the two request counts N1,N2")
    ap.add_argument("--conns", type=int, default=1, help="keep-alive client connections")
    ap.add_argument("--repeat", type=int, default=3, help="rounds; the figure is their median")
    ap.add_argument("--backend-binary", default=cmp.BINARIES["backend"])
    ap.add_argument("--timeout", type=float, default=600, help="seconds one run may take")
    ap.add_argument("--fair-sched", default="yes", choices=["yes", "no", "try"], help="valgrind --fair-sched")
    ap.add_argument("--keep", action="store_true", help="keep the callgrind outputs and print where")
    ap.add_argument("--cached", action="store_true",
                    help="also measure each sluice binary with the route cached (default_ttl: 1h): every request but the first is a hit")
    a = ap.parse_args()
    n1, n2 = (int(x) for x in a.requests.split(","))
    if n2 <= n1:
        sys.exit("--requests N1,N2 needs N2 > N1")
    for tool in ["valgrind", "strip", "taskset"] + (["haproxy"] if a.haproxy else []):
        if not shutil.which(tool):
            sys.exit(f"{tool} is not installed")
    binaries = a.binary or [cmp.BINARIES["sluice"]]
    for path in binaries + [a.backend_binary]:
        if not os.path.exists(path):
            sys.exit(f"missing {path}: run swift build -c release first")
    cmp.BINARIES["backend"] = a.backend_binary
    tmp = tempfile.mkdtemp(prefix="sluice-callgrind-")
    targets = []  # (label, command(cfg), config(port, backend_port, tmp))
    for i, path in enumerate(binaries):
        stripped = prepare_binary(path, tmp, str(i))
        targets.append((f"sluice#{i}", lambda cfg, b=stripped: cmp.sluice_command(b, cfg), cmp.sluice_config))
    if a.cached:
        for i, path in enumerate(binaries):
            targets.append((f"sluice#{i}-hit", lambda cfg, b=os.path.join(tmp, f"sluice-{i}"): cmp.sluice_command(b, cfg),
                            cached_config))
    if a.haproxy:
        targets.append(("haproxy", cmp.haproxy_command, cmp.haproxy_config))
    for i, path in enumerate(binaries):
        print(f"sluice#{i}: {path}")
    print(f"requests {n1},{n2}; {a.conns} connection(s); load average "
          + ", ".join(f"{x:.2f}" for x in os.getloadavg()), flush=True)
    backend, backend_port = cmp.start_backend()
    per = {t[0]: [] for t in targets}
    try:
        for r in range(a.repeat):
            for label, command, config in targets:
                t0 = time.time()
                ir1 = measure(label, command, config, n1, a, backend_port, tmp, r)
                ir2 = measure(label, command, config, n2, a, backend_port, tmp, r)
                per[label].append((ir2 - ir1) / (n2 - n1))
                print(f"round {r + 1} {label:9s} Ir({n1}) {ir1:,}  Ir({n2}) {ir2:,}  "
                      f"{per[label][-1]:,.0f} instructions/request  ({time.time() - t0:.0f} s)", flush=True)
    finally:
        stop(backend, 10)
        if a.keep:
            print(f"callgrind outputs kept in {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    first = per[targets[0][0]]
    print()
    print(f"| target | instructions/request (median of {a.repeat}) | rounds | ratio to {targets[0][0]} |"
          + (" ratio to haproxy |" if a.haproxy else ""))
    print("|---|---|---|---|" + ("---|" if a.haproxy else ""))
    for label, _, _ in targets:
        med = statistics.median(per[label])
        cells = [f"{med:,.0f}", " / ".join(f"{x:,.0f}" for x in per[label]),
                 f"{med / statistics.median(first):.2f}"]
        if a.haproxy:
            cells.append(f"{med / statistics.median(per['haproxy']):.2f}")
        print(f"| {label} | " + " | ".join(cells) + " |")
    print("load average at the end " + ", ".join(f"{x:.2f}" for x in os.getloadavg()))


if __name__ == "__main__":
    main()
