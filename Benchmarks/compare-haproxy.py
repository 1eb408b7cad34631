#!/usr/bin/env python3
"""CPU time per proxied request: sluice vs HAProxy (and nginx), same machine, same run.

Usage: python3 Benchmarks/compare-haproxy.py [--duration 10] [--rounds 3] [--conns 50,500]
                                              [--targets sluice,haproxy,nginx] [--idle 10000]
                                              [--sluice-binary PATH] [--backend-binary PATH]
                                              [--baseline PATH]

Each proxy runs with one worker thread pinned to CPU 1; wrk (1 thread) and the built-in
backend share CPU 0. The figure is utime+stime of the proxy process (from /proc/PID/stat)
divided by the requests wrk completed, median of the rounds. Rounds interleave targets so
drift on a shared machine hits them alike. Needs: swift build -c release; wrk; haproxy/nginx
from Debian (skipped with a message when missing). Everything binds 127.0.0.1 and stops
by itself. --sluice-binary measures another build (default ROOT/.build/release/sluice);
--baseline PATH adds a target `sluice-base` running that binary, so two builds (before and
after a change) are compared in the same run. Target `sluice-hit` runs the same sluice with
its route cached (`cache: { default_ttl: 1h }`): the CPU time per cache hit. The load average is printed at the start and
the end: on a shared machine it says how much the other users disturbed the run.
"""
import argparse, os, re, resource, shutil, signal, socket, statistics, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REL = os.path.join(ROOT, ".build", "release")
TICK = os.sysconf("SC_CLK_TCK")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def wait_port(port, timeout=10):
    end = time.time() + timeout
    while time.time() < end:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


BINARIES = {"sluice": os.path.join(REL, "sluice"), "sluice-base": None,
            "backend": os.path.join(REL, "sluice-backend")}


def start_backend(cpu="0"):
    """The built-in backend (BINARIES["backend"]) on a free port; returns (process, port)."""
    p = subprocess.Popen(["taskset", "-c", cpu, BINARIES["backend"], "--port", "0", "--name", "b1"],
                         stdout=subprocess.PIPE, text=True)
    line = p.stdout.readline()
    port = int(line.strip().rsplit(":", 1)[1])
    return p, port


def sluice_config(port, backend_port, tmp):
    """One worker, no health checks, access log off; returns the config file's path."""
    cfg = os.path.join(tmp, "sluice.yaml")
    with open(cfg, "w") as f:
        f.write(f"""workers: 1
admin: {{ listen: 127.0.0.1:0 }}
access_log: {{ path: off }}
limits: {{ max_connections: 100000 }}
listeners:
  - {{ name: web, listen: 127.0.0.1:{port}, routes: [ {{ cluster: app }} ] }}
clusters:
  - {{ name: app, backends: [ {{ name: b1, address: 127.0.0.1:{backend_port} }} ] }}
""")
    return cfg


def sluice_command(binary, cfg):
    return [binary, "run", "--config", cfg]


def launch(command, cpu="1"):
    return subprocess.Popen(["taskset", "-c", cpu] + command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def start_sluice(port, backend_port, tmp, binary=None):
    return launch(sluice_command(binary or BINARIES["sluice"], sluice_config(port, backend_port, tmp)))


def start_sluice_hit(port, backend_port, tmp):
    """Target `sluice-hit`: the same sluice with its route cached (`default_ttl: 1h`): every
    request after the first is a cache hit, answered without the backend."""
    cfg = sluice_config(port, backend_port, tmp)
    with open(cfg) as f:
        text = f.read().replace("routes: [ { cluster: app } ]", "routes: [ { cluster: app, cache: { default_ttl: 1h } } ]")
    with open(cfg, "w") as f:
        f.write(text)
    return launch(sluice_command(BINARIES["sluice"], cfg))


def start_sluice_base(port, backend_port, tmp):
    return start_sluice(port, backend_port, tmp, BINARIES["sluice-base"])


def haproxy_config(port, backend_port, tmp):
    """One thread, keep-alive both sides, connection reuse; returns the config file's path."""
    cfg = os.path.join(tmp, "haproxy.cfg")
    with open(cfg, "w") as f:
        f.write(f"""global
    nbthread 1
    maxconn 9000
defaults
    mode http
    timeout connect 2s
    timeout client 60s
    timeout server 30s
    option http-keep-alive
    option forwardfor
    http-reuse always
frontend fe
    bind 127.0.0.1:{port}
    default_backend be
backend be
    server b1 127.0.0.1:{backend_port}
""")
    return cfg


def haproxy_command(cfg):
    return ["haproxy", "-db", "-f", cfg]


def start_haproxy(port, backend_port, tmp):
    return launch(haproxy_command(haproxy_config(port, backend_port, tmp)))


def start_nginx(port, backend_port, tmp):
    cfg = os.path.join(tmp, "nginx.conf")
    with open(cfg, "w") as f:
        f.write(f"""worker_processes 1;
daemon off;
master_process off;
error_log /dev/null;
pid {tmp}/nginx.pid;
events {{ worker_connections 9000; }}
http {{
    access_log off;
    upstream be {{ server 127.0.0.1:{backend_port}; keepalive 512; }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://be;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        }}
    }}
}}
""")
    return launch(["nginx", "-c", cfg, "-p", tmp])


STARTERS = {"sluice": start_sluice, "sluice-hit": start_sluice_hit, "sluice-base": start_sluice_base, "haproxy": start_haproxy, "nginx": start_nginx}


def wrk(port, conns, duration):
    out = subprocess.run(["taskset", "-c", "0", "wrk", "-t1", f"-c{conns}", f"-d{duration}s",
                          f"http://127.0.0.1:{port}/"], capture_output=True, text=True).stdout
    m = re.search(r"(\d+) requests in", out)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    return int(m.group(1)) if m else 0, float(rps.group(1)) if rps else 0.0, int(errors.group(1)) if errors else 0


def measure(target, conns, duration, backend_port, tmp):
    port = free_port()
    p = STARTERS[target](port, backend_port, tmp)
    try:
        if not wait_port(port):
            raise RuntimeError(f"{target} did not start")
        wrk(port, conns, 2)  # warm-up
        c0 = cpu_seconds(p.pid)
        n, rps, bad = wrk(port, conns, duration)
        c1 = cpu_seconds(p.pid)
        return (c1 - c0) / max(n, 1) * 1e6, rps, bad
    finally:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()


def idle_memory(count, backend_port, tmp):
    """RSS per idle keep-alive client connection: each did one request, then stays open."""
    port = free_port()
    p = start_sluice(port, backend_port, tmp)
    socks = []
    try:
        wait_port(port)
        req = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"
        warm = socket.create_connection(("127.0.0.1", port))
        warm.sendall(req)
        warm.recv(4096)
        time.sleep(0.3)
        before = rss_kib(p.pid)
        # One request per connection, answered before the next opens: connections that served
        # a request and now sit idle, as a store's browsers do between clicks.
        for i in range(count):
            s = socket.create_connection(("127.0.0.1", port))
            s.sendall(req)
            s.recv(4096)
            socks.append(s)
        time.sleep(0.5)
        after = rss_kib(p.pid)
        return (after - before) / count, before, after
    finally:
        for s in socks:
            s.close()
        p.send_signal(signal.SIGTERM)
        p.wait(10)


def print_table(targets, conns, results):
    ref = "sluice" if "sluice" in targets else targets[0]
    others = [t for t in targets if t != ref]
    print()
    print("| connections | " + " | ".join(f"{t} µs/req (req/s)" for t in targets) + " | " +
          " | ".join(f"{ref}/{t}" for t in others) + " |")
    print("|---" * (1 + len(targets) + len(others)) + "|")
    for c in conns:
        med = {t: statistics.median(x[0] for x in results[(t, c)]) for t in targets}
        rps = {t: statistics.median(x[1] for x in results[(t, c)]) for t in targets}
        cells = [f"{med[t]:.2f} ({rps[t]:.0f})" for t in targets]
        ratios = [f"{med[ref] / med[t]:.2f}" for t in others]
        print(f"| {c} | " + " | ".join(cells) + " | " + " | ".join(ratios) + " |")


def load_average():
    return "load average " + ", ".join(f"{x:.2f}" for x in os.getloadavg())


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--conns", default="50,500")
    ap.add_argument("--targets", default="sluice,haproxy,nginx")
    ap.add_argument("--idle", type=int, default=10000, help="idle connections for the memory figure (0: skip)")
    ap.add_argument("--sluice-binary", default=BINARIES["sluice"], help="the sluice measured as target `sluice`")
    ap.add_argument("--backend-binary", default=BINARIES["backend"], help="the sluice-backend to proxy to")
    ap.add_argument("--baseline", metavar="PATH", help="another sluice binary, added as target `sluice-base`")
    a = ap.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed (apt-get install wrk)")
    BINARIES.update({"sluice": a.sluice_binary, "backend": a.backend_binary, "sluice-base": a.baseline})
    targets = []
    for t in a.targets.split(","):
        if t in ("sluice", "sluice-base", "sluice-hit"):
            pass
        elif not shutil.which(t):
            print(f"skipping {t}: not installed (apt-get install {t})")
            continue
        targets.append(t)
    if a.baseline and "sluice-base" not in targets:
        targets.insert(1 if "sluice" in targets else 0, "sluice-base")
    for exe in ["backend"] + [t for t in targets if t in ("sluice", "sluice-base")] + (["sluice"] if a.idle else []):
        if not BINARIES[exe] or not os.path.exists(BINARIES[exe]):
            sys.exit(f"missing {exe} binary {BINARIES[exe]}: run swift build -c release first")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    conns = [int(c) for c in a.conns.split(",")]
    tmp = tempfile.mkdtemp(prefix="sluice-bench-")
    backend, backend_port = start_backend()
    results = {}
    print(f"start: {load_average()}; sluice {BINARIES['sluice']}" +
          (f"; sluice-base {a.baseline}" if a.baseline else ""), flush=True)
    try:
        for r in range(a.rounds):
            for c in conns:
                for t in targets:
                    us, rps, bad = measure(t, c, a.duration, backend_port, tmp)
                    results.setdefault((t, c), []).append((us, rps, bad))
                    print(f"round {r + 1} c={c} {t:11s} {us:6.2f} us/req  {rps:9.0f} req/s  non-2xx {bad}  "
                          f"({load_average()})", flush=True)
        if a.rounds:
            print_table(targets, conns, results)
        if a.idle:
            per, before, after = idle_memory(a.idle, backend_port, tmp)
            print(f"\nidle keep-alive connections: {a.idle}; sluice RSS {before} KiB -> {after} KiB; "
                  f"{per:.2f} KiB per connection")
        print(f"end: {load_average()}")
    finally:
        backend.send_signal(signal.SIGTERM)
        backend.wait(10)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
