#!/usr/bin/env python3
"""Every primary dies at once: how many requests fail, and how soon does the standby serve?

Usage: python3 Benchmarks/failover-kill-primaries.py [--targets sluice,haproxy,haproxy-observe,nginx] [--rounds 3]
                                                      [--rate 300] [--conns 6] [--before 1] [--after 3]
                                                      [--build debug|release]

Three primaries and one standby (the built-in backend, `sluice-backend`, each its own process)
behind each balancer, configured with its own failover and retry features:
  sluice   standby tier, health_check every 1s (fall 3, rise 2), retries: attempts 2 on
           connect_failure, reset_before_response, 502, 503, 504
  haproxy  `backup` server, `check inter 1s fall 3 rise 2`, `retries 2`, `option redispatch 1`,
           `retry-on conn-failure empty-response response-timeout 502 503 504`
  haproxy-observe  the same plus passive health: `observe layer4 error-limit 1 on-error mark-down`
  nginx    `backup` server, passive health (max_fails=1 fail_timeout=10s, the defaults),
           `proxy_next_upstream error timeout http_502 http_503 http_504`, 3 tries
A load generator sends --rate GETs/s over --conns keep-alive connections (a connection that
fails is reopened). After --before seconds all three primaries get SIGKILL at once; the load
runs --after seconds more. Reported per round: requests sent after the kill, how many failed
(not 200, or no answer), ms from the kill to the first answer from the standby, and ms to the
last failure. Needs: swift build (or -c release); haproxy and nginx from Debian (skipped with
a message when missing). Everything binds 127.0.0.1 and stops by itself.
"""
import argparse, http.client, os, shutil, signal, socket, subprocess, sys, tempfile, threading, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_port(port, timeout=10):
    end = time.time() + timeout
    while time.time() < end:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


def start_backend(bindir, name):
    p = subprocess.Popen([os.path.join(bindir, "sluice-backend"), "--port", "0", "--name", name],
                         stdout=subprocess.PIPE, text=True)
    port = int(p.stdout.readline().strip().rsplit(":", 1)[1])
    return p, port


def start_sluice(bindir, port, prim, standby, tmp):
    cfg = os.path.join(tmp, "sluice.yaml")
    backends = "\n".join(f"      - {{ name: p{i + 1}, address: 127.0.0.1:{b} }}" for i, b in enumerate(prim))
    with open(cfg, "w") as f:
        f.write(f"""workers: 2
admin: {{ listen: 127.0.0.1:0 }}
access_log: {{ path: off }}
listeners:
  - {{ name: web, listen: 127.0.0.1:{port}, routes: [ {{ cluster: app }} ] }}
clusters:
  - name: app
    backends:
{backends}
    standby:
      - {{ name: s1, address: 127.0.0.1:{standby} }}
    health_check: {{ interval: 1s, timeout: 500ms, rise: 2, fall: 3 }}
    retries: {{ attempts: 2, on: [connect_failure, reset_before_response, 502, 503, 504] }}
""")
    return subprocess.Popen([os.path.join(bindir, "sluice"), "run", "--config", cfg],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def start_haproxy(bindir, port, prim, standby, tmp, observe=""):
    cfg = os.path.join(tmp, "haproxy.cfg")
    servers = "\n".join(f"    server p{i + 1} 127.0.0.1:{b} check inter 1s fall 3 rise 2{observe}" for i, b in enumerate(prim))
    with open(cfg, "w") as f:
        f.write(f"""global
    nbthread 2
defaults
    mode http
    timeout connect 1s
    timeout client 30s
    timeout server 30s
    option http-keep-alive
    retries 2
    option redispatch 1
    retry-on conn-failure empty-response response-timeout 502 503 504
frontend fe
    bind 127.0.0.1:{port}
    default_backend be
backend be
    balance roundrobin
{servers}
    server s1 127.0.0.1:{standby} check inter 1s fall 3 rise 2 backup
""")
    return subprocess.Popen(["haproxy", "-db", "-f", cfg], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def start_nginx(bindir, port, prim, standby, tmp):
    cfg = os.path.join(tmp, "nginx.conf")
    servers = "\n".join(f"        server 127.0.0.1:{b};" for b in prim)
    with open(cfg, "w") as f:
        f.write(f"""worker_processes 2;
daemon off;
master_process on;
error_log /dev/null;
pid {tmp}/nginx.pid;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    upstream be {{
{servers}
        server 127.0.0.1:{standby} backup;
        keepalive 64;
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://be;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_connect_timeout 1s;
            proxy_next_upstream error timeout http_502 http_503 http_504;
            proxy_next_upstream_tries 3;
        }}
    }}
}}
""")
    return subprocess.Popen(["nginx", "-c", cfg, "-p", tmp], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def start_haproxy_observe(bindir, port, prim, standby, tmp):
    # HAProxy's passive health: a connection error marks the server down at once.
    return start_haproxy(bindir, port, prim, standby, tmp, observe=" observe layer4 error-limit 1 on-error mark-down")


STARTERS = {"sluice": start_sluice, "haproxy": start_haproxy, "haproxy-observe": start_haproxy_observe,
            "nginx": start_nginx}


def load(port, rate, conns, stop, answers, t0):
    """One keep-alive connection sending rate/conns GETs per second until `stop` is set."""
    period = conns / rate
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=3)
    while not stop.is_set():
        sent = time.monotonic()
        try:
            c.request("GET", "/", headers={"Host": "app"})
            r = c.getresponse()
            r.read()
            answers.append((time.monotonic() - t0, r.status, r.getheader("X-Backend") or ""))
            if r.getheader("Connection", "").lower() == "close":
                c.close()
        except (OSError, http.client.HTTPException):
            answers.append((time.monotonic() - t0, 0, ""))
            c.close()
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=3)
        wait = period - (time.monotonic() - sent)
        if wait > 0:
            time.sleep(wait)
    c.close()


def round_once(target, args, bindir):
    tmp = tempfile.mkdtemp(prefix="sluice-failover-")
    prims = [start_backend(bindir, f"p{i + 1}") for i in range(3)]
    sb = start_backend(bindir, "s1")
    port = free_port()
    lb = STARTERS[target](bindir, port, [p for _, p in prims], sb[1], tmp)
    try:
        if not wait_port(port):
            raise RuntimeError(f"{target} did not start")
        time.sleep(1.5)  # first health checks done
        answers, stop = [], threading.Event()
        t0 = time.monotonic()
        threads = [threading.Thread(target=load, args=(port, args.rate, args.conns, stop, answers, t0))
                   for _ in range(args.conns)]
        for t in threads:
            t.start()
        time.sleep(args.before)
        killed = time.monotonic() - t0
        for p, _ in prims:
            p.send_signal(signal.SIGKILL)
        time.sleep(args.after)
        stop.set()
        for t in threads:
            t.join()
        after = [a for a in answers if a[0] >= killed]
        failed = [a for a in after if a[1] != 200]
        first_standby = next((a[0] - killed for a in sorted(after) if a[2] == "s1" and a[1] == 200), None)
        last_failure = max((a[0] - killed for a in failed), default=None)
        return len(after), len(failed), first_standby, last_failure
    finally:
        for p, _ in prims + [sb]:
            if p.poll() is None:
                p.kill()
            p.wait()
        lb.send_signal(signal.SIGTERM)
        try:
            lb.wait(10)
        except subprocess.TimeoutExpired:
            lb.kill()
        shutil.rmtree(tmp, ignore_errors=True)


def ms(x):
    return "-" if x is None else f"{x * 1000:.0f}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--targets", default="sluice,haproxy,haproxy-observe,nginx")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--rate", type=float, default=300)
    ap.add_argument("--conns", type=int, default=6)
    ap.add_argument("--before", type=float, default=1)
    ap.add_argument("--after", type=float, default=3)
    ap.add_argument("--build", default="debug", choices=["debug", "release"])
    args = ap.parse_args()
    bindir = os.path.join(ROOT, ".build", args.build)
    print("| target | round | GETs after the kill | failed | first standby answer ms | last failure ms |")
    print("|---|---|---|---|---|---|")
    for target in args.targets.split(","):
        exe = target.split("-")[0]
        if exe != "sluice" and shutil.which(exe) is None:
            print(f"| {target} | - | skipped: {exe} is not installed (apt-get install {exe}) | | | |")
            continue
        for r in range(args.rounds):
            n, bad, first, last = round_once(target, args, bindir)
            print(f"| {target} | {r + 1} | {n} | {bad} | {ms(first)} | {ms(last)} |", flush=True)


if __name__ == "__main__":
    sys.exit(main())
