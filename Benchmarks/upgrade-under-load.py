#!/usr/bin/env python3
"""Binary upgrades under load: Sluice's `sluice upgrade` beside HAProxy's reload (-sf, and
-x with the stats socket) and nginx's USR2 binary upgrade, same load, same run (issue 12).

Usage: python3 Benchmarks/upgrade-under-load.py [--upgrades 10] [--every 1.5]
           [--only sluice,sluice-failing,haproxy-sf,haproxy-x,nginx] [--json FILE]
           [--sluice PATH] [--backend PATH]

The load, per target, from two wrk processes (Debian's wrk; its Lua `delay()` paces each
connection): 32 kept-alive connections at one request per 18 ms (about 1,750 requests/s) and
8 connections whose every request says `Connection: close`, so each request is a new
connection (about 250/s): about 2,000 requests/s in all. While it runs, `--upgrades`
upgrades `--every` seconds apart. From wrk's report: requests, `connect` errors (refused
connections), `read`/`write`/`timeout` errors (a request sent and never answered: reset or
closed under it), non-2xx answers, and the latency p99/max.

- sluice: `sluice upgrade --pid-file` (the binary copied into a folder of its own and put
  back by rename before each upgrade, as `install` does).
- sluice-failing: the same, but the file at the binary's path is a script that exits 3:
  every upgrade must fail (exit 1) and the old process serve on, with 0 errors.
- haproxy-sf: `haproxy -f CFG -p PID -D -sf OLD` (the new process binds with SO_REUSEPORT,
  the old one soft-stops).
- haproxy-x: the same plus `-x STATS.sock` with `expose-fd listeners`: the new process takes
  the old one's listening sockets over the stats socket.
- nginx: `kill -USR2` on the master (a new master with the inherited sockets), then `WINCH`
  and `QUIT` on the old one once the new pid file is there, as nginx's docs describe.

Two fast backends (ROOT/.build/release/sluice-backend) behind each proxy, one worker each
(workers: 1, nbthread 1, worker_processes 1). Everything on 127.0.0.1, every process ended
by its pid at the end. Needs: swift build -c release; wrk, haproxy, nginx (a target whose
program is missing is skipped with a message).
"""
import argparse, json, os, re, shutil, signal, socket, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REL = os.path.join(ROOT, ".build", "release")

KEEPALIVE_LUA = """
function delay() return 18 end
"""
CLOSE_LUA = """
wrk.headers["Connection"] = "close"
function delay() return 32 end
"""


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


def read_pid(path, timeout=10):
    end = time.time() + timeout
    while time.time() < end:
        try:
            with open(path) as f:
                t = f.read().strip()
            if t:
                return int(t)
        except (OSError, ValueError):
            pass
        time.sleep(0.02)
    return None


def alive(pid):
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False


def parse_wrk(text):
    out = {"requests": 0, "connect": 0, "read": 0, "write": 0, "timeout": 0, "non2xx": 0, "p99_ms": None, "max_ms": None}
    m = re.search(r"(\d+) requests in", text)
    if m:
        out["requests"] = int(m.group(1))
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    if m:
        out["connect"], out["read"], out["write"], out["timeout"] = map(int, m.groups())
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    if m:
        out["non2xx"] = int(m.group(1))

    def ms(v, unit):
        return float(v) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]

    m = re.search(r"99%\s+([\d.]+)(us|ms|s|m)\b", text)
    if m:
        out["p99_ms"] = ms(*m.groups())
    m = re.search(r"Latency\s+[\d.]+\w+\s+[\d.]+\w+\s+([\d.]+)(us|ms|s|m)\b", text)
    if m:
        out["max_ms"] = ms(*m.groups())
    return out


class Target:
    """One proxy: start, upgrade once, stop. Subclasses fill in the commands."""

    def __init__(self, tmp, port, backends, args):
        self.tmp, self.port, self.backends, self.args = tmp, port, backends, args
        self.procs = []  # every pid this target started, ended by pid at the end

    def stop(self):
        for pid in self.all_pids():
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass

    def all_pids(self):
        return set(self.procs)


class Sluice(Target):
    name = "sluice"
    failing = False

    def start(self):
        d = os.path.join(self.tmp, "sluice")
        os.makedirs(d, exist_ok=True)
        self.binary = os.path.join(d, "sluice")
        shutil.copy(self.args.sluice, self.binary)
        self.pidfile = os.path.join(d, "sluice.pid")
        cfg = os.path.join(d, "sluice.yaml")
        backends = "\n".join(f"      - {{ name: b{i}, address: 127.0.0.1:{p} }}" for i, p in enumerate(self.backends))
        with open(cfg, "w") as f:
            f.write(f"""workers: 1
access_log: {{ path: off }}
admin: {{ listen: 127.0.0.1:{free_port()} }}
timeouts: {{ drain: 10s }}
listeners:
  - {{ name: web, listen: 127.0.0.1:{self.port}, routes: [ {{ cluster: app }} ] }}
clusters:
  - name: app
    backends:
{backends}
""")
        self.log = open(os.path.join(d, "sluice.log"), "w")
        p = subprocess.Popen([self.binary, "run", "--config", cfg, "--pid-file", self.pidfile], stderr=self.log, stdout=self.log)
        self.procs.append(p.pid)
        self.proc = p
        return read_pid(self.pidfile) is not None and wait_port(self.port)

    def put(self, script):
        staged = self.binary + ".staged"
        if script:
            with open(staged, "w") as f:
                f.write(script)
            os.chmod(staged, 0o755)
        else:
            shutil.copy(self.args.sluice, staged)
        os.rename(staged, self.binary)

    def upgrade(self):
        self.put("#!/bin/sh\nexit 3\n" if self.failing else None)
        r = subprocess.run([self.args.sluice, "upgrade", "--pid-file", self.pidfile, "--timeout", "30"], capture_output=True, text=True)
        pid = read_pid(self.pidfile, 1)
        if pid:
            self.procs.append(pid)
        expected = 1 if self.failing else 0
        return r.returncode == expected, (r.stdout + r.stderr).strip()

    def stop(self):
        pid = read_pid(self.pidfile, 0.1)
        if pid:
            os.kill(pid, signal.SIGTERM)
        end = time.time() + 10
        while pid and alive(pid) and time.time() < end:
            time.sleep(0.05)
        super().stop()
        self.proc.wait()


class SluiceFailing(Sluice):
    name = "sluice-failing"
    failing = True


class HAProxy(Target):
    name = "haproxy-sf"
    expose = False

    def start(self):
        d = os.path.join(self.tmp, self.name)
        os.makedirs(d, exist_ok=True)
        self.cfg = os.path.join(d, "haproxy.cfg")
        self.pidfile = os.path.join(d, "haproxy.pid")
        self.sock = os.path.join(d, "stats.sock")
        servers = "\n".join(f"    server b{i} 127.0.0.1:{p}" for i, p in enumerate(self.backends))
        stats = f"    stats socket {self.sock} mode 600 level admin expose-fd listeners\n" if self.expose else ""
        with open(self.cfg, "w") as f:
            f.write(f"""global
    nbthread 1
{stats}defaults
    mode http
    timeout connect 5s
    timeout client 30s
    timeout server 30s
    timeout http-keep-alive 30s
frontend web
    bind 127.0.0.1:{self.port}
    default_backend app
backend app
    balance roundrobin
{servers}
""")
        r = subprocess.run(["haproxy", "-f", self.cfg, "-p", self.pidfile, "-D"], capture_output=True, text=True)
        pid = read_pid(self.pidfile)
        if pid:
            self.procs.append(pid)
        return r.returncode == 0 and pid is not None and wait_port(self.port)

    def upgrade(self):
        old = read_pid(self.pidfile)
        cmd = ["haproxy", "-f", self.cfg, "-p", self.pidfile, "-D"]
        if self.expose:
            cmd += ["-x", self.sock]
        cmd += ["-sf", str(old)]
        r = subprocess.run(cmd, capture_output=True, text=True)
        new = read_pid(self.pidfile)
        if new:
            self.procs.append(new)
        return r.returncode == 0 and new != old, r.stderr.strip()[-200:]


class HAProxyX(HAProxy):
    name = "haproxy-x"
    expose = True


class Nginx(Target):
    name = "nginx"

    def start(self):
        d = os.path.join(self.tmp, "nginx")
        os.makedirs(os.path.join(d, "logs"), exist_ok=True)
        self.cfg = os.path.join(d, "nginx.conf")
        self.pidfile = os.path.join(d, "nginx.pid")
        servers = "\n".join(f"        server 127.0.0.1:{p};" for p in self.backends)
        with open(self.cfg, "w") as f:
            f.write(f"""worker_processes 1;
daemon on;
pid {self.pidfile};
error_log {d}/logs/error.log;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    upstream app {{
{servers}
        keepalive 32;
    }}
    server {{
        listen 127.0.0.1:{self.port};
        keepalive_requests 1000000;
        location / {{
            proxy_pass http://app;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }}
    }}
}}
""")
        self.prefix = d
        r = subprocess.run(["/usr/sbin/nginx", "-p", d, "-c", self.cfg], capture_output=True, text=True)
        pid = read_pid(self.pidfile)
        if pid:
            self.procs.append(pid)
        return r.returncode == 0 and pid is not None and wait_port(self.port)

    def upgrade(self):
        old = read_pid(self.pidfile)
        os.kill(old, signal.SIGUSR2)
        # The new master writes nginx.pid and renames the old one to nginx.pid.oldbin.
        end = time.time() + 10
        new = None
        while time.time() < end:
            new = read_pid(self.pidfile, 0.05)
            if new and new != old and os.path.exists(self.pidfile + ".oldbin"):
                break
            time.sleep(0.02)
        if not new or new == old:
            return False, "no new master"
        self.procs.append(new)
        time.sleep(0.2)  # the new workers start
        os.kill(old, signal.SIGWINCH)
        os.kill(old, signal.SIGQUIT)
        return True, f"{old} -> {new}"

    def all_pids(self):
        pids = set(self.procs)
        for pid in list(pids):  # the workers too
            try:
                out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
                pids.update(int(x) for x in out.split())
            except OSError:
                pass
        return pids


TARGETS = {t.name: t for t in (Sluice, SluiceFailing, HAProxy, HAProxyX, Nginx)}
NEEDS = {"sluice": None, "sluice-failing": None, "haproxy-sf": "haproxy", "haproxy-x": "haproxy", "nginx": "nginx"}


def run_target(cls, args, backends, tmp):
    port = free_port()
    t = cls(tmp, port, backends, args)
    if not t.start():
        t.stop()
        return {"target": cls.name, "error": "did not start"}
    secs = int(args.upgrades * args.every + 4)
    tmpdir = tempfile.mkdtemp(dir=tmp)
    ka, cl = os.path.join(tmpdir, "ka.lua"), os.path.join(tmpdir, "close.lua")
    open(ka, "w").write(KEEPALIVE_LUA)
    open(cl, "w").write(CLOSE_LUA)
    url = f"http://127.0.0.1:{port}/"
    w1 = subprocess.Popen(["wrk", "-t1", "-c32", f"-d{secs}s", "--latency", "-s", ka, url], stdout=subprocess.PIPE, text=True)
    w2 = subprocess.Popen(["wrk", "-t1", "-c8", f"-d{secs}s", "--latency", "-s", cl, url], stdout=subprocess.PIPE, text=True)
    time.sleep(1.5)
    done, notes = 0, []
    for i in range(args.upgrades):
        ok, why = t.upgrade()
        if ok:
            done += 1
        else:
            notes.append(why)
        time.sleep(args.every)
    o1, _ = w1.communicate()
    o2, _ = w2.communicate()
    t.stop()
    ka_r, cl_r = parse_wrk(o1), parse_wrk(o2)
    res = {"target": cls.name, "upgrades": done, "of": args.upgrades, "seconds": secs}
    res["requests"] = ka_r["requests"] + cl_r["requests"]
    res["rate"] = round(res["requests"] / secs)
    res["refused"] = ka_r["connect"] + cl_r["connect"]
    res["failed"] = sum(r[k] for r in (ka_r, cl_r) for k in ("read", "write", "timeout", "non2xx"))
    res["failed_keepalive"] = sum(ka_r[k] for k in ("read", "write", "timeout", "non2xx"))
    res["failed_new"] = sum(cl_r[k] for k in ("read", "write", "timeout", "non2xx"))
    res["p99_ms"] = max(x for x in (ka_r["p99_ms"], cl_r["p99_ms"]) if x is not None) if ka_r["p99_ms"] else None
    res["max_ms"] = max(x for x in (ka_r["max_ms"], cl_r["max_ms"]) if x is not None) if ka_r["max_ms"] else None
    if notes:
        res["notes"] = notes[:2]
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--upgrades", type=int, default=10)
    ap.add_argument("--every", type=float, default=1.5)
    ap.add_argument("--only", default="sluice,sluice-failing,haproxy-sf,haproxy-x,nginx")
    ap.add_argument("--json")
    ap.add_argument("--sluice", default=os.path.join(REL, "sluice"))
    ap.add_argument("--backend", default=os.path.join(REL, "sluice-backend"))
    args = ap.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is missing (apt-get install wrk)")
    tmp = tempfile.mkdtemp(prefix="sluice-upgrade-bench-")
    backends, bprocs = [], []
    try:
        for i in range(2):
            port = free_port()
            p = subprocess.Popen([args.backend, "--port", str(port), "--name", f"b{i}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            bprocs.append(p)
            if not wait_port(port):
                sys.exit("a backend did not start")
            backends.append(port)
        results = []
        for name in args.only.split(","):
            need = NEEDS.get(name)
            if name not in TARGETS:
                sys.exit(f"unknown target {name}")
            if need and not shutil.which(need) and not os.path.exists("/usr/sbin/" + need):
                print(f"{name}: skipped ({need} is not installed)")
                continue
            r = run_target(TARGETS[name], args, backends, tmp)
            results.append(r)
            print(json.dumps(r), flush=True)
        print()
        print(f"{'target':16} {'upgrades':>9} {'requests':>9} {'req/s':>6} {'refused':>8} {'failed':>7} {'(keep-alive/new)':>17} {'p99 ms':>8} {'max ms':>8}")
        for r in results:
            if "error" in r:
                print(f"{r['target']:16} {r['error']}")
                continue
            up = f"{r['upgrades']}/{r['of']}"
            print(f"{r['target']:16} {up:>9} {r['requests']:>9} {r['rate']:>6} {r['refused']:>8} {r['failed']:>7} "
                  f"{str(r['failed_keepalive']) + '/' + str(r['failed_new']):>17} {r['p99_ms'] or 0:>8.1f} {r['max_ms'] or 0:>8.1f}")
        if args.json:
            with open(args.json, "w") as f:
                json.dump(results, f, indent=2)
    finally:
        for p in bprocs:
            p.terminate()
            p.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
