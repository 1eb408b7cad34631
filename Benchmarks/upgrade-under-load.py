#!/usr/bin/env python3
"""Binary upgrades under load: `sluice upgrade` beside HAProxy's reloads and nginx's USR2
binary upgrade, same load, same run (issue 12).

Usage: python3 Benchmarks/upgrade-under-load.py [--only sluice,sluice-failed,haproxy-sf,haproxy-x,haproxy-w,nginx]
           [--upgrades 10] [--every 2] [--rate 2000] [--keepalive 32] [--new-rate 200]
           [--rounds 1] [--procs 2] [--json FILE] [--sluice PATH] [--backend PATH]

The load (Python asyncio, --procs processes, open-loop: every request has its time in a fixed
schedule and its latency is counted from that time, so a stall is not hidden by the
generator waiting for it): --rate requests/s in all, --new-rate of them each on a new
connection (`Connection: close`, one request), the rest over --keepalive kept-alive
connections, one request in flight per connection, no pipelining. A kept-alive connection
that the proxy ends (`Connection: close`, or closed while idle) is reopened before its next
request, as any client does; that is not a failure. Counted per target: requests, answered
2xx, failed (reset, end of the connection without a full answer, non-2xx, no answer within
--timeout) and refused (ECONNREFUSED on connect), the latency p50/p99/max of the 2xx, and
the rate the generator achieved (it prints it: on a shared 2-core machine Python can fall
behind).

After 2 s of load, --upgrades upgrades in a row, --every seconds apart (the next starts no
sooner than the previous has finished), then 3 s more of load:
- sluice: the binary is copied into a folder of its own and run from there (`sluice run
  --config F --pid-file P`); before each upgrade a fresh copy is renamed over it (as
  `install` does), then `sluice upgrade --pid-file P` must exit 0 and the pid file name a
  new process.
- sluice-failed: the same, but every other upgrade finds `#!/bin/sh` `exit 3` at the
  binary's path: `sluice upgrade` must exit 1 and the old process serve on; the next one
  puts the real binary back and must succeed.
- haproxy-sf: `haproxy -db -f CFG -sf OLDPID` (a new process binds its own sockets with
  SO_REUSEPORT, then tells the old one to stop; the old one's accept queue is lost).
- haproxy-x: the same with `-x STATS.sock` (`stats socket ... expose-fd listeners`): the
  new process takes the old one's listening sockets over the stats socket.
- haproxy-w: master-worker mode (`haproxy -W -db`), SIGUSR2 to the master, which execs the
  binary again and starts a new worker.
- nginx: daemon with its own prefix, config and pid file in a temporary folder; USR2 to the
  master (a new master from the binary on disk with the inherited sockets), then once the
  new master's worker runs WINCH to the old master, and once its workers are gone QUIT.
Two built-in backends (ROOT/.build/release/sluice-backend) behind each, round robin; one
worker for each proxy (`workers: 1`, `nbthread 1`, `worker_processes 1`); Sluice and HAProxy
with health checks every 1 s. Everything on 127.0.0.1 with ports the kernel chose. Every
process started (and every process they start, found through /proc: this script is a child
subreaper, so daemons and the processes left by an upgrade stay its children) is ended by
its pid at the end, also on failure or Ctrl-C; the whole run is bounded by an alarm.
Needs: swift build -c release; haproxy, nginx (a target whose program is missing is skipped).
"""
import argparse, asyncio, ctypes, errno, json, os, shutil, signal, socket, statistics, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REL = os.path.join(ROOT, ".build", "release")
ALL = ["sluice", "sluice-failed", "haproxy-sf", "haproxy-x", "haproxy-w", "nginx"]
WARM, TAIL = 2.0, 3.0
SLOW_MS = 20.0  # answers slower than this are listed with their time, to see if upgrades cause them

# ---------------------------------------------------------------- load generator (worker) --

REQ_KEEP = b"GET / HTTP/1.1\r\nHost: app\r\n\r\n"
REQ_CLOSE = b"GET / HTTP/1.1\r\nHost: app\r\nConnection: close\r\n\r\n"


class Failed(Exception):
    """An exchange that ended without a complete answer; args[0] is the kind."""


class Exchange(asyncio.Protocol):
    """One client connection: a request at a time, the answer parsed from Content-Length
    (or chunked, or until the end of the connection)."""

    def __init__(self):
        self.buf = bytearray()
        self.waiter = None
        self.closed = False
        self.exc = None
        self.transport = None

    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        self.buf += data
        self._check()

    def eof_received(self):
        self.closed = True
        self._check()
        return False

    def connection_lost(self, exc):
        self.closed = True
        self.exc = exc
        self._check()

    def request(self, data):
        self.buf.clear()
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(data)
        return self.waiter

    def _check(self):
        w = self.waiter
        if w is None or w.done():
            return
        buf = self.buf
        end = buf.find(b"\r\n\r\n")
        if end >= 0:
            head = bytes(buf[:end]).lower()
            try:
                status = int(head[9:12])
            except ValueError:
                w.set_exception(Failed("bad-status-line"))
                return
            close = b"\r\nconnection: close" in head
            body = len(buf) - end - 4
            i = head.find(b"\r\ncontent-length:")
            if i >= 0:
                j = head.find(b"\r\n", i + 2)
                n = int(head[i + 17:j if j > 0 else None])
                if body >= n:
                    self.waiter = None
                    w.set_result((status, close))
                    return
            elif b"\r\ntransfer-encoding: chunked" in head:
                if buf.endswith(b"0\r\n\r\n"):
                    self.waiter = None
                    w.set_result((status, close))
                    return
            elif self.closed:
                self.waiter = None
                w.set_result((status, True))
                return
        if self.closed:
            self.waiter = None
            if isinstance(self.exc, ConnectionResetError):
                w.set_exception(Failed("reset"))
            elif buf:
                w.set_exception(Failed("cut-answer"))
            else:
                w.set_exception(Failed("eof-no-answer"))


class Tally:
    def __init__(self, t0_loop):
        self.t0 = t0_loop
        self.sent = self.ok = self.refused = 0
        self.sent_keep = self.sent_new = self.reconnects = self.closes = 0
        self.fails = {}
        self.events = []
        self.lat = []
        self.lag = []
        self.slow = []  # (s into the load, ms) of answers over SLOW_MS

    def answered(self, at, now):
        ms = (now - at) * 1000
        self.ok += 1
        self.lat.append(ms)
        if ms > SLOW_MS and len(self.slow) < 5000:
            self.slow.append((round(at - self.t0, 3), round(ms, 1)))

    def fail(self, kind, when):
        if kind.endswith(" refused"):
            self.refused += 1
        else:
            self.fails[kind] = self.fails.get(kind, 0) + 1
        if len(self.events) < 5000:
            self.events.append((round(when - self.t0, 3), kind))


async def connect(loop, port, timeout):
    return await asyncio.wait_for(loop.create_connection(Exchange, "127.0.0.1", port), timeout)


def connect_error(e):
    if isinstance(e, ConnectionRefusedError):
        return "refused"
    if isinstance(e, asyncio.TimeoutError):
        return "connect-timeout"
    return "connect-" + errno.errorcode.get(getattr(e, "errno", 0) or 0, type(e).__name__)


async def schedule(loop, start, end, period):
    """The open-loop times start, start + period, ... before end, each yielded once it has
    come (at once when the caller is late: the lateness then counts in the latency)."""
    k = 0
    while start + k * period < end:
        at = start + k * period
        k += 1
        wait = at - loop.time()
        if wait > 0:
            await asyncio.sleep(wait)
        yield at


async def keepalive_conn(loop, port, start, end, period, offset, timeout, t):
    proto, opened = None, 0
    async for at in schedule(loop, start + offset, end, period):
        t.sent += 1
        t.sent_keep += 1
        if proto is None or proto.closed:
            try:
                _, proto = await connect(loop, port, timeout)
                t.reconnects += opened > 0
                opened += 1
            except (OSError, asyncio.TimeoutError) as e:
                t.fail("keepalive " + connect_error(e), at)
                proto = None
                continue
        try:
            status, close = await asyncio.wait_for(proto.request(REQ_KEEP), timeout)
        except Failed as e:
            t.fail("keepalive " + e.args[0], at)
            proto.transport.abort()
            proto = None
            continue
        except asyncio.TimeoutError:
            t.fail("keepalive timeout", at)
            proto.transport.abort()
            proto = None
            continue
        if 200 <= status < 300:
            t.answered(at, loop.time())
        else:
            t.fail(f"keepalive status-{status}", at)
        if close:
            t.closes += 1
            proto.transport.close()
            proto = None
    if proto is not None:
        proto.transport.close()


async def one_new(loop, port, at, timeout, t):
    t.sent += 1
    t.sent_new += 1
    try:
        tr, proto = await connect(loop, port, timeout)
    except (OSError, asyncio.TimeoutError) as e:
        t.fail("new " + connect_error(e), at)
        return
    try:
        status, _ = await asyncio.wait_for(proto.request(REQ_CLOSE), timeout)
        if 200 <= status < 300:
            t.answered(at, loop.time())
        else:
            t.fail(f"new status-{status}", at)
    except Failed as e:
        t.fail("new " + e.args[0], at)
    except asyncio.TimeoutError:
        t.fail("new timeout", at)
    finally:
        tr.close()


async def new_conns(loop, port, start, end, period, timeout, t):
    tasks = set()
    async for at in schedule(loop, start, end, period):
        t.lag.append(loop.time() - at)
        task = loop.create_task(one_new(loop, port, at, timeout, t))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    if tasks:
        await asyncio.gather(*tasks)


async def worker_main(spec):
    loop = asyncio.get_running_loop()
    start = loop.time() + (spec["start_wall"] - time.time())
    end = start + spec["duration"]
    t = Tally(start)
    jobs = []
    total, me, procs = spec["keepalive_total"], spec["index"], spec["procs"]
    keep_rate = spec["rate"] - spec["new_rate"]
    if total and keep_rate > 0:
        period = total / keep_rate
        for g in range(me, total, procs):
            jobs.append(keepalive_conn(loop, spec["port"], start, end, period, g * period / total, spec["timeout"], t))
    if spec["new_rate"] > 0:
        period = procs / spec["new_rate"]
        jobs.append(new_conns(loop, spec["port"], start + me * period / procs, end, period, spec["timeout"], t))
    await asyncio.gather(*jobs)
    t.lag.sort()
    return {"sent": t.sent, "ok": t.ok, "refused": t.refused, "fails": t.fails, "events": t.events,
            "sent_keepalive": t.sent_keep, "sent_new": t.sent_new, "reconnects": t.reconnects,
            "connection_close_answers": t.closes, "lat_ms": [round(x, 3) for x in t.lat], "slow": t.slow,
            "lag_p99_ms": round(1000 * t.lag[int(0.99 * (len(t.lag) - 1))], 2) if t.lag else None,
            "lag_max_ms": round(1000 * t.lag[-1], 2) if t.lag else None}


def run_worker(arg):
    spec = json.loads(arg)
    try:
        import gc
        gc.disable()  # no collector pauses in the middle of the schedule (the run is short)
    except ImportError:
        pass
    out = asyncio.run(worker_main(spec))
    sys.stdout.write(json.dumps(out))
    sys.stdout.flush()


# ------------------------------------------------------------------- processes (parent) --


def set_subreaper():
    """Orphans of the processes started here (daemons, whatever an upgrade leaves) become
    this process's children, so they can be found, ended and reaped by pid."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(36, 1, 0, 0, 0) == 0  # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        return False


def children(pid):
    out = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as f:
                out += [int(x) for x in f.read().split()]
    except OSError:
        pass
    return out


def descendants(pid):
    out, todo = [], [pid]
    while todo:
        for c in children(todo.pop()):
            if c not in out:
                out.append(c)
                todo.append(c)
    return out


class Procs:
    """Every process this run started or adopted, by pid; ended at the end."""

    def __init__(self):
        self.popen = {}
        self.pids = set()

    def start(self, argv, **kw):
        p = subprocess.Popen(argv, **kw)
        self.popen[p.pid] = p
        return p

    def adopt(self, pid):
        if pid and pid not in self.popen:
            self.pids.add(pid)

    def alive(self, pid):
        if pid in self.popen:
            return self.popen[pid].poll() is None
        try:
            r, _ = os.waitpid(pid, os.WNOHANG)
            if r == pid:
                return False
        except ChildProcessError:
            pass
        try:
            with open(f"/proc/{pid}/stat") as f:
                return f.read().rsplit(")", 1)[1].split()[0] != "Z"
        except OSError:
            return False

    def wait_gone(self, pid, timeout):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if not self.alive(pid):
                return True
            time.sleep(0.02)
        return not self.alive(pid)

    def end(self, pids=None, grace=3.0):
        """SIGTERM to each (and everything below it), SIGKILL after `grace`, reap."""
        pids = list(self.popen) + list(self.pids) if pids is None else list(pids)
        every = []
        for p in pids:
            for q in [p] + descendants(p):
                if q not in every:
                    every.append(q)
        for q in every:
            self.adopt(q)
        for q in every:
            if self.alive(q):
                try:
                    os.kill(q, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + grace
        for q in every:
            if not self.wait_gone(q, max(0.0, deadline - time.monotonic())):
                for r in [q] + descendants(q):
                    try:
                        os.kill(r, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                    self.adopt(r)
                self.wait_gone(q, 2.0)
        for q in every:
            if q in self.popen:
                try:
                    self.popen[q].wait(1)
                except subprocess.TimeoutExpired:
                    pass
                del self.popen[q]
            else:
                self.alive(q)  # reaps it
                self.pids.discard(q)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def get_ok(port, timeout=0.5):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout) as s:
            s.settimeout(timeout)
            s.sendall(REQ_CLOSE)
            data = b""
            while len(data) < 12:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
            return data[9:12] == b"200"
    except OSError:
        return False


def wait_ok(port, timeout=10):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if get_ok(port):
            return True
        time.sleep(0.05)
    return False


def read_pid(path):
    try:
        with open(path) as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def wait_for(cond, timeout, step=0.02):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = cond()
        if v:
            return v
        time.sleep(step)
    return cond()


# ------------------------------------------------------------------------------ targets --


class Target:
    """start(port, backends) then upgrade(i) -> (done, note); pids() the current server ones."""

    def __init__(self, name, procs, tmp, args):
        self.name, self.procs, self.tmp, self.args = name, procs, tmp, args
        self.retired = []  # pids replaced by an upgrade: they must exit by themselves

    def leftovers(self):
        return [p for p in self.retired if self.procs.alive(p)]

    def all_pids(self):
        return ([self.pid] if getattr(self, "pid", None) else []) + self.retired


class Sluice(Target):
    def start(self, port, backends):
        self.src = os.path.abspath(self.args.sluice)
        bindir = os.path.join(self.tmp, "bin")
        os.makedirs(bindir)
        self.bin = os.path.join(bindir, "sluice")
        self.install(self.src)
        self.pidfile = os.path.join(self.tmp, "sluice.pid")
        cfg = os.path.join(self.tmp, "sluice.yaml")
        with open(cfg, "w") as f:
            f.write(f"""workers: 1
admin: {{ listen: 127.0.0.1:{free_port()} }}
access_log: {{ path: off }}
listeners:
  - {{ name: web, listen: 127.0.0.1:{port}, routes: [ {{ cluster: app }} ] }}
clusters:
  - name: app
    backends:
      - {{ name: b1, address: 127.0.0.1:{backends[0]} }}
      - {{ name: b2, address: 127.0.0.1:{backends[1]} }}
    health_check: {{ interval: 1s, timeout: 500ms, rise: 2, fall: 3 }}
""")
        self.log = open(os.path.join(self.tmp, "sluice.log"), "wb")
        p = self.procs.start([self.bin, "run", "--config", cfg, "--pid-file", self.pidfile],
                             stdout=subprocess.DEVNULL, stderr=self.log)
        self.pid = p.pid

    def install(self, content_from=None, script=None):
        """Put a new file at the binary's path by rename, as `install` does."""
        tmp = self.bin + ".new"
        if script is not None:
            with open(tmp, "w") as f:
                f.write(script)
        else:
            shutil.copyfile(content_from, tmp)
        os.chmod(tmp, 0o755)
        os.replace(tmp, self.bin)

    def do_upgrade(self, broken):
        self.install(script="#!/bin/sh\nexit 3\n") if broken else self.install(self.src)
        old = self.pid
        try:
            r = subprocess.run([self.src, "upgrade", "--pid-file", self.pidfile], capture_output=True,
                               text=True, timeout=70)
            rc, msg = r.returncode, (r.stdout + r.stderr).strip().replace("\n", " | ")
        except subprocess.TimeoutExpired:
            rc, msg = None, "sluice upgrade did not end within 70 s"
        new = read_pid(self.pidfile)
        if broken:
            done = rc == 1 and new == old and self.procs.alive(old)
            return done, f"exit {rc} (expected 1), pid {old} -> {new}: {msg[:200]}"
        done = rc == 0 and new is not None and new != old
        if done:
            self.procs.adopt(new)
            self.retired.append(old)
            self.pid = new
        return done, f"exit {rc}, pid {old} -> {new}" + (f": {msg[:200]}" if rc != 0 else "")

    def upgrade(self, i):
        return self.do_upgrade(False)


class SluiceFailed(Sluice):
    def upgrade(self, i):
        return self.do_upgrade(i % 2 == 0)


class HAProxy(Target):
    mode = "sf"

    def start(self, port, backends):
        self.sock = os.path.join(self.tmp, "stats.sock")
        stats = f"    stats socket {self.sock} mode 600 level admin expose-fd listeners\n" if self.mode == "x" else ""
        self.cfg = os.path.join(self.tmp, "haproxy.cfg")
        with open(self.cfg, "w") as f:
            f.write(f"""global
    nbthread 1
{stats}defaults
    mode http
    timeout connect 2s
    timeout client 60s
    timeout server 30s
    option http-keep-alive
frontend fe
    bind 127.0.0.1:{port}
    default_backend be
backend be
    balance roundrobin
    server b1 127.0.0.1:{backends[0]} check inter 1s fall 3 rise 2
    server b2 127.0.0.1:{backends[1]} check inter 1s fall 3 rise 2
""")
        self.log = open(os.path.join(self.tmp, "haproxy.log"), "wb")
        argv = ["haproxy", "-W", "-db", "-f", self.cfg] if self.mode == "w" else ["haproxy", "-db", "-f", self.cfg]
        self.pid = self.procs.start(argv, stdout=self.log, stderr=self.log).pid

    def upgrade(self, i):
        if self.mode == "w":
            return self.upgrade_master()
        old = self.pid
        argv = ["haproxy", "-db", "-f", self.cfg] + (["-x", self.sock] if self.mode == "x" else []) + ["-sf", str(old)]
        p = self.procs.start(argv, stdout=self.log, stderr=self.log)
        # The new process signals the old one once it has bound; it is up when the old one
        # got the signal (it stops listening) and the new one still runs.
        time.sleep(0.5)
        if p.poll() is not None:
            return False, f"new haproxy exited {p.returncode}"
        self.retired.append(old)
        self.pid = p.pid
        return True, f"pid {old} -> {p.pid}"

    def upgrade_master(self):
        before = set(children(self.pid))
        os.kill(self.pid, signal.SIGUSR2)
        new = wait_for(lambda: set(children(self.pid)) - before, 5)
        if not new:
            return False, "no new worker within 5 s"
        self.retired += list(before)
        return True, f"workers {sorted(before)} -> {sorted(new)}"

    def leftovers(self):
        if self.mode == "w":
            return [p for p in self.retired if p in children(self.pid)]
        return super().leftovers()


class HAProxyX(HAProxy):
    mode = "x"


class HAProxyW(HAProxy):
    mode = "w"


class Nginx(Target):
    def start(self, port, backends):
        self.pidfile = os.path.join(self.tmp, "nginx.pid")
        cfg = os.path.join(self.tmp, "nginx.conf")
        with open(cfg, "w") as f:
            f.write(f"""worker_processes 1;
pid {self.pidfile};
error_log {self.tmp}/error.log notice;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    upstream be {{
        server 127.0.0.1:{backends[0]};
        server 127.0.0.1:{backends[1]};
        keepalive 64;
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://be;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }}
    }}
}}
""")
        # The binary upgrade execs argv[0]: the absolute path. nginx daemonizes (the default);
        # as a subreaper this script is the master's parent after the fork.
        nginx = shutil.which("nginx")
        r = subprocess.run([nginx, "-c", cfg, "-p", self.tmp + "/"], capture_output=True, text=True, timeout=10)
        if r.returncode != 0:
            raise RuntimeError(f"nginx: {r.stderr.strip()}")
        self.pid = wait_for(lambda: read_pid(self.pidfile), 5)
        self.procs.adopt(self.pid)

    def upgrade(self, i):
        old = self.pid
        os.kill(old, signal.SIGUSR2)
        new = wait_for(lambda: (lambda p: p if p and p != old else None)(read_pid(self.pidfile)), 5)
        if not new:
            return False, "no new master within 5 s"
        self.procs.adopt(new)
        if not wait_for(lambda: children(new), 5):
            return False, f"new master {new} started no worker within 5 s"
        os.kill(old, signal.SIGWINCH)
        # The new master is the old one's child too (forked by it): wait for the others.
        quiet = wait_for(lambda: not [c for c in children(old) if c != new], 10)
        os.kill(old, signal.SIGQUIT)
        gone = self.procs.wait_gone(old, 10)
        self.retired.append(old)
        self.pid = new
        return gone, f"master {old} -> {new}" + ("" if quiet else ", old workers still there 10 s after WINCH") + (
            "" if gone else ", old master still there 10 s after QUIT")


TARGETS = {"sluice": Sluice, "sluice-failed": SluiceFailed, "haproxy-sf": HAProxy, "haproxy-x": HAProxyX,
           "haproxy-w": HAProxyW, "nginx": Nginx}
NEEDS = {"sluice": None, "sluice-failed": None, "haproxy-sf": "haproxy", "haproxy-x": "haproxy",
         "haproxy-w": "haproxy", "nginx": "nginx"}


# ------------------------------------------------------------------------------ one run --


def pct(sorted_vals, q):
    if not sorted_vals:
        return None
    return sorted_vals[min(len(sorted_vals) - 1, int(q * len(sorted_vals)))]


def measure(name, args, procs, backends):
    tmp = tempfile.mkdtemp(prefix=f"upgrade-{name}-")
    target = TARGETS[name](name, procs, tmp, args)
    port = free_port()
    workers = []
    try:
        target.start(port, backends)
        if not wait_ok(port, 10):
            raise RuntimeError(f"{name} does not answer on 127.0.0.1:{port}")
        time.sleep(1.5)  # first health checks
        duration = WARM + args.upgrades * args.every + TAIL
        start_wall = time.time() + 0.7
        for i in range(args.procs):
            spec = {"port": port, "start_wall": start_wall, "duration": duration, "rate": args.rate,
                    "new_rate": args.new_rate, "keepalive_total": args.keepalive, "index": i,
                    "procs": args.procs, "timeout": args.timeout}
            workers.append(procs.start([sys.executable, os.path.abspath(__file__), "--load-worker", json.dumps(spec)],
                                       stdout=subprocess.PIPE, text=True))
        ups = []
        for i in range(args.upgrades):
            at = start_wall + WARM + i * args.every
            if at > time.time():
                time.sleep(at - time.time())
            t0 = time.time()
            try:
                done, note = target.upgrade(i)
            except OSError as e:
                done, note = False, f"{type(e).__name__}: {e}"
            ups.append({"at_s": round(t0 - start_wall, 3), "took_s": round(time.time() - t0, 3), "done": done,
                        "note": note})
        results = []
        for w in workers:
            out, _ = w.communicate(timeout=duration + args.timeout + 30)
            results.append(json.loads(out))
        time.sleep(1.0)  # retired processes get a moment to finish their drain
        left = target.leftovers()
    finally:
        procs.end([w.pid for w in workers] + target.all_pids())
    lat = sorted(x for r in results for x in r["lat_ms"])
    fails = {}
    for r in results:
        for k, v in r["fails"].items():
            fails[k] = fails.get(k, 0) + v
    events = sorted(e for r in results for e in r["events"])
    sent = sum(r["sent"] for r in results)
    slow = sorted(x for r in results for x in r["slow"])
    ats = [u["at_s"] for u in ups]
    near = [x for x in slow if any(0 <= x[0] - a < 0.5 for a in ats)]
    shutil.rmtree(tmp, ignore_errors=True)
    return {"target": name, "upgrades_asked": args.upgrades, "upgrades_done": sum(u["done"] for u in ups),
            "upgrades": ups, "load_s": duration, "requests": sent, "ok": sum(r["ok"] for r in results),
            "failed": sum(fails.values()), "refused": sum(r["refused"] for r in results), "fail_kinds": fails,
            "failure_times_s": events[:200], "p50_ms": pct(lat, 0.5), "p99_ms": pct(lat, 0.99),
            "max_ms": lat[-1] if lat else None, "achieved_rate": round(sent / duration, 1),
            "sent_keepalive": sum(r["sent_keepalive"] for r in results),
            "sent_new": sum(r["sent_new"] for r in results),
            "keepalive_reconnects": sum(r["reconnects"] for r in results),
            "connection_close_answers": sum(r["connection_close_answers"] for r in results),
            "generator_lag_p99_ms": max((r["lag_p99_ms"] or 0) for r in results),
            "generator_lag_max_ms": max((r["lag_max_ms"] or 0) for r in results),
            "retired_still_running": len(left), "slow_answers": len(slow),
            "slow_within_500ms_of_an_upgrade": len(near), "slow_times": slow[:300]}


def fmt(v, nd=1):
    return "-" if v is None else f"{v:.{nd}f}"


def table(rows):
    head = ["target", "upgrades", "requests", "2xx", "failed", "refused", "p50 ms", "p99 ms", "max ms", "req/s"]
    lines = [head]
    for r in rows:
        lines.append([r["target"], f"{r['upgrades_done']}/{r['upgrades_asked']}", str(r["requests"]), str(r["ok"]),
                      str(r["failed"]), str(r["refused"]), fmt(r["p50_ms"], 2), fmt(r["p99_ms"], 2), fmt(r["max_ms"]),
                      fmt(r["achieved_rate"])])
    w = [max(len(l[i]) for l in lines) for i in range(len(head))]
    return "\n".join("  ".join(c.ljust(w[i]) if i == 0 else c.rjust(w[i]) for i, c in enumerate(l)) for l in lines)


def details(r):
    out = []
    if r["fail_kinds"]:
        out.append(f"  {r['target']}: failures {r['fail_kinds']}")
    if r["failed"] or r["refused"]:
        ats = [u["at_s"] for u in r["upgrades"]]
        near = []
        for t, kind in r["failure_times_s"][:40]:
            prev = max((a for a in ats if a <= t), default=None)
            near.append(f"{kind}@{t:.2f}s" + (f"(+{t - prev:.2f})" if prev is not None else ""))
        out.append(f"  {r['target']}: first failures (s into the load, +s after the upgrade before): " + " ".join(near))
    bad = [u for u in r["upgrades"] if not u["done"]]
    for u in bad:
        out.append(f"  {r['target']}: upgrade at {u['at_s']} s NOT done: {u['note']}")
    if r["target"] == "sluice-failed":
        out.append(f"  sluice-failed: " + "; ".join(u["note"][:200] for u in r["upgrades"][:2]))
    late = [u for u in r["upgrades"] if u["at_s"] + u["took_s"] > r["load_s"]]
    if late:
        out.append(f"  {r['target']}: {len(late)} upgrades ended after the load had stopped (slower than --every)")
    if r["retired_still_running"]:
        out.append(f"  {r['target']}: {r['retired_still_running']} replaced processes still running 1 s after the load")
    out.append(f"  {r['target']}: keepalive {r['sent_keepalive']} / new {r['sent_new']} requests, "
               f"{r['connection_close_answers']} 'Connection: close' answers, {r['keepalive_reconnects']} reopened, "
               f"answers over {SLOW_MS:.0f} ms {r['slow_answers']} ({r['slow_within_500ms_of_an_upgrade']} within 0.5 s after an upgrade began), "
               f"generator lag p99 {r['generator_lag_p99_ms']} ms max {r['generator_lag_max_ms']} ms, "
               f"upgrades took {fmt(statistics.median([u['took_s'] for u in r['upgrades']]) if r['upgrades'] else None, 2)} s (median)")
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", default=",".join(ALL))
    ap.add_argument("--upgrades", type=int, default=10)
    ap.add_argument("--every", type=float, default=2.0)
    ap.add_argument("--rate", type=int, default=2000)
    ap.add_argument("--new-rate", type=int, default=200)
    ap.add_argument("--keepalive", type=int, default=32)
    ap.add_argument("--timeout", type=float, default=3.0)
    ap.add_argument("--procs", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--json")
    ap.add_argument("--sluice", default=os.path.join(REL, "sluice"))
    ap.add_argument("--backend", default=os.path.join(REL, "sluice-backend"))
    ap.add_argument("--load-worker", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.load_worker:
        return run_worker(args.load_worker)
    names = [n for n in args.only.split(",") if n]
    for n in names:
        if n not in TARGETS:
            sys.exit(f"unknown target {n}; known: {', '.join(ALL)}")
    runnable = []
    for n in names:
        need = NEEDS[n]
        if need and not shutil.which(need):
            print(f"skipping {n}: {need} not installed")
        elif n.startswith("sluice") and not os.access(args.sluice, os.X_OK):
            print(f"skipping {n}: no {args.sluice} (swift build -c release)")
        else:
            runnable.append(n)
    if not os.access(args.backend, os.X_OK):
        sys.exit(f"no {args.backend} (swift build -c release --product sluice-backend)")
    per_target = WARM + args.upgrades * (args.every + 1) + TAIL + 3 * args.timeout + 40
    budget = int(args.rounds * len(runnable) * per_target + 60)
    procs = Procs()

    def stop(sig, frame):
        raise SystemExit(f"stopped by signal {sig}")

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGALRM, lambda s, f: (_ for _ in ()).throw(TimeoutError(f"run exceeded {budget} s")))
    signal.alarm(budget)
    subreaper = set_subreaper()
    print(f"load: {args.rate} req/s ({args.new_rate}/s on new connections, the rest over {args.keepalive} kept-alive), "
          f"{args.procs} generator processes; {args.upgrades} upgrades {args.every} s apart; "
          f"load average {os.getloadavg()[0]:.2f}; subreaper {subreaper}", flush=True)
    rounds = []
    try:
        backends = []
        for i in range(2):
            p = procs.start([args.backend, "--port", "0", "--name", f"b{i + 1}"], stdout=subprocess.PIPE, text=True)
            backends.append(int(p.stdout.readline().strip().rsplit(":", 1)[1]))
        for rnd in range(args.rounds):
            order = runnable[rnd % len(runnable):] + runnable[:rnd % len(runnable)] if runnable else []
            rows = []
            for n in order:
                try:
                    r = measure(n, args, procs, backends)
                except (RuntimeError, OSError, subprocess.SubprocessError, ValueError) as e:
                    print(f"{n}: {type(e).__name__}: {e}", flush=True)
                    continue
                rows.append(r)
                print(f"round {rnd + 1} {n}: {r['upgrades_done']}/{r['upgrades_asked']} upgrades, {r['requests']} requests, "
                      f"{r['failed']} failed, {r['refused']} refused, p99 {fmt(r['p99_ms'], 2)} ms, "
                      f"{r['achieved_rate']} req/s; load average {os.getloadavg()[0]:.2f}", flush=True)
            rows.sort(key=lambda r: ALL.index(r["target"]))
            rounds.append(rows)
            print(f"\nround {rnd + 1}:\n" + table(rows))
            for r in rows:
                print(details(r))
            print(flush=True)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # the cleanup itself is not interrupted
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        procs.end()
    summary = []
    if len(rounds) > 1:
        for n in runnable:
            rs = [r for rows in rounds for r in rows if r["target"] == n]
            if not rs:
                continue
            med = lambda k: statistics.median([r[k] for r in rs if r[k] is not None]) if any(r[k] is not None for r in rs) else None
            summary.append({"target": n, "rounds": len(rs), "upgrades_done": min(r["upgrades_done"] for r in rs),
                            "upgrades_asked": args.upgrades, "requests": int(med("requests")), "ok": int(med("ok")),
                            "failed": med("failed"), "refused": med("refused"), "p50_ms": med("p50_ms"),
                            "p99_ms": med("p99_ms"), "max_ms": med("max_ms"), "achieved_rate": med("achieved_rate"),
                            "failed_per_round": [r["failed"] for r in rs], "refused_per_round": [r["refused"] for r in rs]})
        print(f"medians of {len(rounds)} rounds (upgrades: the fewest done in a round):\n" + table(summary))
        for s in summary:
            print(f"  {s['target']}: failed per round {s['failed_per_round']}, refused per round {s['refused_per_round']}")
    print(f"load average at the end {os.getloadavg()[0]:.2f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"args": {k: v for k, v in vars(args).items() if k != "load_worker"},
                       "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "rounds": rounds,
                       "medians": summary}, f, indent=1)


if __name__ == "__main__":
    main()
