#!/usr/bin/env python3
"""Chaos soak: the real sluice binary under mixed traffic while its backends die, freeze,
answer 5xx, fail health checks and come back, and the config is reloaded (good and broken).

Usage: python3 Benchmarks/chaos-soak.py [--duration 180] [--seed N] [--rate 250]
                                         [--settle 12] [--keep] [--verbose] [--retry-budget 20%]

Runs .build/release/sluice in front of 4 primaries (p1..p4) and 1 standby (s1), each a
separate .build/release/sluice-backend process, with health checks, outlier detection,
retries, slow start and limits configured as an operator would. For --duration seconds it
sends --rate requests/s (Poisson arrivals) of mixed traffic over pooled keep-alive and
fresh connections: small GETs (plain, /bytes/N, /chunked/N, HEAD), POST /echo with seeded
random bodies (Content-Length and chunked, some uploaded slowly), 1 MiB downloads (some read
slowly), /delay/MS. Every body's length and SHA-256 is checked (the built-in backend sends
'x' bytes, so /bytes/N and /chunked/N are deterministic; /echo must return what was sent).

Meanwhile a schedule drawn from --seed: SIGKILL a primary and restart it; SIGSTOP/SIGCONT
one; a "bad deploy" (restart with --status 503: ordinary answers fail, /health passes); /sick
then /well (health checks fail, then pass); SIGHUP with a good config (new weights) and with
a broken one (must be refused, generation unchanged, traffic unharmed); all primaries
SIGKILLed at once for a few seconds (the standby must take over).

Each failure is classified by what the client saw (Sluice's 502/503/504 and its reason text,
a backend's own 5xx, reset or EOF before the head, a cut body, a client timeout) and joined
with the access log (request ids) to the backends Sluice tried. A failure is unavoidable
when no proxy could have saved it: a body already streaming from a backend that was killed
or frozen meanwhile, or a non-idempotent request (POST) already sent to a backend that was
killed or frozen while it was in flight. Everything else counts as avoidable.

Sluice's fd count and RSS are sampled every second; a sluice exit before the end is a crash.
Exit status: 1 when a body was corrupted, sluice crashed or a config reload misbehaved
(a broken config applied or a good one refused); 0 otherwise. Everything binds 127.0.0.1,
stops by itself (a watchdog ends the run at --duration + 180 s) and ends only the processes
it started.
"""
import argparse, asyncio, collections, hashlib, http.client, json, math, os, random, re, resource
import shutil, signal, socket, subprocess, sys, tempfile, threading, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REL = os.path.join(ROOT, ".build", "release")
MiB = 1 << 20
PRIMARIES = ["p1", "p2", "p3", "p4"]
STANDBY = ["s1"]
BASE_WEIGHTS = {"p1": 3, "p2": 2, "p3": 2, "p4": 1, "s1": 1}
RESPONSE_TIMEOUT = 4.0  # the cluster's `response` timeout below
RETRY_BUDGET = "20%"  # --retry-budget
T0 = time.monotonic()


def now():
    return time.monotonic() - T0


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def proc_fds(pid):
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return -1


def proc_rss_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return -1


_XSHA = {}


def sha_x(n):
    """SHA-256 of n 'x' bytes: what the built-in backend's /bytes/N, /chunked/N and ordinary answers send."""
    h = _XSHA.get(n)
    if h is None:
        h = _XSHA[n] = hashlib.sha256(b"x" * n).hexdigest()
    return h


# ---------------------------------------------------------------- processes


class Backend:
    def __init__(self, name, tier, log_dir):
        self.name, self.tier = name, tier
        self.port = free_port()
        self.proc = None
        self.status = 200
        self.frozen = False
        self.expected_down = True
        self.log = open(os.path.join(log_dir, f"backend-{name}.log"), "ab")

    def start(self, status=200):
        for attempt in range(50):
            args = [os.path.join(REL, "sluice-backend"), "--port", str(self.port), "--name", self.name]
            if status != 200:
                args += ["--status", str(status)]
            p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=self.log)
            line = p.stdout.readline().decode()
            p.stdout.close()
            if line.startswith("listening"):
                self.proc, self.status, self.frozen, self.expected_down = p, status, False, False
                return
            p.wait()
            time.sleep(0.1)  # the port may still be held for a moment
        raise RuntimeError(f"backend {self.name} did not start on port {self.port}")

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.expected_down = True
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()
        self.proc, self.frozen = None, False

    def freeze(self, on):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGSTOP if on else signal.SIGCONT)
            self.frozen = on

    def get(self, path):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=3)
        try:
            c.request("GET", path)
            return c.getresponse().status
        finally:
            c.close()


def cluster_yaml(backends, weights, broken=None):
    """The operator's config. `broken` names a mistake that `sluice check` would refuse."""
    def entry(b):
        w = weights[b.name]
        if broken == "weight" and b.name == "p2":
            w = -3
        return f"      - {{ name: {b.name}, address: 127.0.0.1:{b.port}, weight: {w} }}\n"
    prim = "".join(entry(b) for b in backends if b.tier == "primary")
    if broken == "duplicate":
        prim += f"      - {{ name: p1, address: 127.0.0.1:{backends[0].port} }}\n"
    stby = "".join(entry(b) for b in backends if b.tier == "standby")
    hc = "health_check" if broken != "unknown_key" else "healthcheck"
    interval = "1s" if broken != "duration" else "1 second"
    route_cluster = "app" if broken != "route" else "ap"
    text = f"""      - match: {{ path_prefix: / }}
        cluster: {route_cluster}
clusters:
  - name: app
    balance: round_robin
    backends:
{prim}    standby:
{stby}    failover: {{ overprovisioning: 1.4, when_all_down: fail_open }}
    slow_start: 5s
    {hc}: {{ type: http, path: /health, interval: {interval}, timeout: 500ms, rise: 2, fall: 2, expect_status: 200-399 }}
    outlier_detection: {{ consecutive_failures: 5, base_ejection: 5s, max_ejection: 30s, max_ejected: 50% }}
    retries: {{ attempts: 2, on: [connect_failure, reset_before_response, 502, 503, 504], budget: {RETRY_BUDGET} }}
    limits: {{ max_requests_per_backend: 64, max_queue: 512, queue_timeout: 2s, queue_target: 50ms }}
    timeouts: {{ connect: 500ms, response: {int(RESPONSE_TIMEOUT)}s }}
"""
    if broken == "syntax":
        text = text.replace("retries: {", "retries: {{", 1)
    return text


def sluice_yaml(port, admin, access_log, backends, weights, broken=None):
    return f"""# chaos-soak: written by Benchmarks/chaos-soak.py
workers: auto
admin: {{ listen: 127.0.0.1:{admin} }}
access_log: {{ path: {access_log}, format: json }}
limits: {{ max_connections: 4000, max_request_head: 32KiB, max_request_body: 8MiB }}
timeouts: {{ client_head: 10s, client_idle: 30s, connect: 1s, response: 10s, upstream_idle: 10s, drain: 10s }}
listeners:
  - name: web
    listen: 127.0.0.1:{port}
    routes:
""" + cluster_yaml(backends, weights, broken)


def admin_get(admin, path, timeout=3):
    c = http.client.HTTPConnection("127.0.0.1", admin, timeout=timeout)
    try:
        c.request("GET", path)
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


# ---------------------------------------------------------------- the chaos schedule

EVENT_TYPES = ["kill", "freeze", "bad_deploy", "sick", "reload_good", "reload_bad", "all_down"]
BROKEN_VARIANTS = ["unknown_key", "duration", "weight", "syntax", "duplicate", "route"]


def make_schedule(rng, duration):
    """Non-overlapping events from 6 s to duration - 10 s; every type at least once when time allows."""
    events, t = [], 6.0
    must = EVENT_TYPES[:]
    rng.shuffle(must)
    # all_down is the harshest: keep it off the very start so the soak has a baseline first.
    if must[0] == "all_down" and len(must) > 1:
        must[0], must[1] = must[1], must[0]
    while True:
        kind = must.pop(0) if must else rng.choices(EVENT_TYPES, weights=[4, 3, 2, 2, 2, 2, 1])[0]
        ev = {"kind": kind, "at": round(t, 1)}
        if kind in ("kill", "freeze", "bad_deploy", "sick"):
            ev["backend"] = rng.choice(PRIMARIES)
        span = {"kill": (3, 10), "freeze": (2, 6), "bad_deploy": (6, 12), "sick": (5, 10),
                "all_down": (4, 8)}.get(kind)
        ev["for"] = round(rng.uniform(*span), 1) if span else 0
        if kind == "reload_good":
            ev["weights"] = {p: rng.randint(1, 5) for p in PRIMARIES}
        if kind == "reload_bad":
            ev["variant"] = rng.choice(BROKEN_VARIANTS)
        end = t + ev["for"] + 1.5
        if end > duration - 10:
            break
        events.append(ev)
        # recovery: health rise (2 x 1 s) and slow start (5 s) after anything that took a backend down
        t = end + rng.uniform(3, 6) + (5 if kind in ("kill", "bad_deploy", "all_down", "sick") else 0)
    return events, must


class Chaos(threading.Thread):
    def __init__(self, schedule, backends, sluice, cfg_path, write_cfg, admin, stop):
        super().__init__(daemon=True)
        self.schedule, self.backends, self.sluice = schedule, {b.name: b for b in backends}, sluice
        self.cfg_path, self.write_cfg, self.admin, self.stop = cfg_path, write_cfg, admin, stop
        self.log = []  # (t, what, backend, detail)
        self.kills = collections.defaultdict(list)  # backend -> [t]
        self.freezes = collections.defaultdict(list)  # backend -> [(t0, t1)]
        self.windows = []  # (t0, t1, kind, backend)
        self.reload_checks = []  # (ok, description)
        self.weights = dict(BASE_WEIGHTS)
        self.start_t = None

    def note(self, what, backend="", detail=""):
        t = now()
        self.log.append((t, what, backend, detail))
        return t

    def sleep_until(self, t):
        while not self.stop.is_set() and now() < t:
            time.sleep(min(0.05, max(0.0, t - now())))
        return not self.stop.is_set()

    def status(self):
        code, body = admin_get(self.admin, "/status")
        return json.loads(body)

    def sighup(self):
        self.sluice.send_signal(signal.SIGHUP)

    def run(self):
        try:
            for ev in self.schedule:
                if not self.sleep_until(self.start_t + ev["at"]):
                    return
                getattr(self, "ev_" + ev["kind"])(ev)
        except Exception as e:  # a broken soak must say so, not hang
            self.note("chaos-error", "", repr(e))

    def kill(self, b):
        self.backends[b].kill()
        t = self.note("SIGKILL", b)
        self.kills[b].append(t)

    def ev_kill(self, ev):
        b = ev["backend"]
        t0 = now()
        self.kill(b)
        self.sleep_until(t0 + ev["for"])
        self.backends[b].start()
        self.note("restarted", b)
        self.windows.append((t0, now(), "kill", b))

    def ev_freeze(self, ev):
        b = ev["backend"]
        self.backends[b].freeze(True)
        t0 = self.note("SIGSTOP", b)
        self.sleep_until(t0 + ev["for"])
        self.backends[b].freeze(False)
        t1 = self.note("SIGCONT", b)
        self.freezes[b].append((t0, t1))
        self.windows.append((t0, t1, "freeze", b))

    def ev_bad_deploy(self, ev):
        b = ev["backend"]
        t0 = now()
        self.kill(b)
        self.backends[b].start(status=503)
        self.note("bad deploy (--status 503)", b)
        self.sleep_until(t0 + ev["for"])
        self.kill(b)
        self.backends[b].start()
        self.note("rolled back", b)
        self.windows.append((t0, now(), "bad_deploy", b))

    def ev_sick(self, ev):
        b = ev["backend"]
        self.backends[b].get("/sick")
        t0 = self.note("/sick", b)
        self.sleep_until(t0 + ev["for"])
        self.backends[b].get("/well")
        t1 = self.note("/well", b)
        self.windows.append((t0, t1, "sick", b))

    def ev_all_down(self, ev):
        t0 = now()
        for b in PRIMARIES:
            self.kill(b)
        self.note("all primaries SIGKILLed")
        self.sleep_until(t0 + ev["for"])
        for b in PRIMARIES:
            self.backends[b].start()
        self.note("all primaries restarted")
        self.windows.append((t0, now(), "all_down", "*"))

    def ev_reload_good(self, ev):
        before = self.status()
        gen = before["config"]["generation"]
        self.weights.update(ev["weights"])
        self.write_cfg(None, self.weights)
        t0 = now()
        self.sighup()
        self.note("SIGHUP good config", "", "weights " + " ".join(f"{k}={v}" for k, v in ev["weights"].items()))
        ok, why = False, "generation did not grow within 5 s"
        while now() < t0 + 5 and not self.stop.is_set():
            s = self.status()
            if s["config"]["generation"] == gen + 1:
                got = {b["name"]: b["weight"] for b in s["clusters"][0]["backends"]}
                ok = all(got.get(k) == v for k, v in self.weights.items())
                why = "applied" if ok else f"generation {gen + 1} but weights {got}"
                break
            time.sleep(0.1)
        self.reload_checks.append((ok, f"good reload at {t0:.1f}s: {why}"))
        self.windows.append((t0, now(), "reload_good", ""))

    def ev_reload_bad(self, ev):
        before = self.status()
        gen = before["config"]["generation"]
        at = before["config"]["last_reload"]["at"]
        self.write_cfg(ev["variant"], self.weights)
        t0 = now()
        self.sighup()
        self.note("SIGHUP broken config", "", ev["variant"])
        ok, why = False, "no failed reload reported within 5 s"
        while now() < t0 + 5 and not self.stop.is_set():
            s = self.status()
            lr = s["config"]["last_reload"]
            if s["config"]["generation"] != gen:
                why = f"broken config ({ev['variant']}) APPLIED: generation {gen} -> {s['config']['generation']}"
                break
            if lr["result"] == "failure" and lr["at"] != at:
                ok, why = True, f"refused ({ev['variant']}): {'; '.join(lr['errors'])[:160]}"
                break
            time.sleep(0.1)
        self.write_cfg(None, self.weights)  # the file on disk is good again; no reload needed
        self.reload_checks.append((ok, f"broken reload at {t0:.1f}s: {why}"))
        self.windows.append((t0, now(), "reload_bad", ""))


class Sampler(threading.Thread):
    def __init__(self, pid, stop):
        super().__init__(daemon=True)
        self.pid, self.stop, self.samples = pid, stop, []

    def sample(self):
        self.samples.append((now(), proc_fds(self.pid), proc_rss_kib(self.pid), cpu_ticks(self.pid), machine_ticks()))

    def run(self):
        while not self.stop.wait(1.0):
            self.sample()


# ---------------------------------------------------------------- the client


class Fail(Exception):
    def __init__(self, cause, detail=""):
        super().__init__(cause)
        self.cause, self.detail = cause, detail


class Record:
    __slots__ = ("rid", "kind", "method", "path", "conn", "t0", "t1", "status", "backend", "cause", "detail",
                 "got", "want", "head_at")

    def __init__(self, rid, kind, method, path, conn):
        self.rid, self.kind, self.method, self.path, self.conn = rid, kind, method, path, conn
        self.t0 = self.t1 = self.head_at = 0.0
        self.status, self.backend, self.cause, self.detail, self.got, self.want = 0, None, "ok", "", 0, 0


KINDS = [  # (kind, share of arrivals)
    ("get", 30), ("get_bytes", 12), ("get_chunked", 6), ("head", 2), ("echo", 20), ("echo_chunked", 6),
    ("slow_upload", 2), ("delay", 14), ("download", 4), ("slow_read", 4),
]


class Client:
    def __init__(self, port, rng, seed, block):
        self.port, self.rng, self.seed, self.block = port, rng, seed, block
        self.pool = []  # idle keep-alive connections: (reader, writer, idle_since)
        self.records = []
        self.inflight = 0
        self.skipped = 0
        self.n = 0
        self.lag = []  # (t, seconds the client's event loop was late): a stalled client is not sluice's fault

    async def watch_lag(self, stop):
        while not stop.is_set():
            t = time.monotonic()
            await asyncio.sleep(0.1)
            late = time.monotonic() - t - 0.1
            if late > 0.05:
                self.lag.append((now(), late))

    def body(self, lo, hi):
        n = 0 if self.rng.random() < 0.03 else int(math.exp(self.rng.uniform(math.log(lo), math.log(hi))))
        off = self.rng.randrange(0, len(self.block) - n + 1)
        return memoryview(self.block)[off:off + n]

    def plan(self):
        """One request drawn from the mix: (record, body, upload mode, expected length, expected sha, read rate)."""
        kind = self.rng.choices([k for k, _ in KINDS], weights=[w for _, w in KINDS])[0]
        r = self.rng.random()
        conn = "pooled" if r < 0.65 else ("close" if r < 0.92 else "fresh")
        body, upload, rate, pieces = None, None, 0, []
        method, want = "GET", 13
        if kind == "get":
            path = "/"
        elif kind == "get_bytes":
            want = self.rng.randint(0, 16384)
            path = f"/bytes/{want}"
        elif kind == "get_chunked":
            want = self.rng.randint(1, 65536)
            path = f"/chunked/{want}"
        elif kind == "head":
            method, path, want = "HEAD", "/", 0
        elif kind in ("echo", "echo_chunked", "slow_upload"):
            method, path = "POST", "/echo"
            body = self.body(1, 256 * 1024 if kind != "slow_upload" else 192 * 1024)
            if kind == "slow_upload" and len(body) < 32768:
                body = memoryview(self.block)[:65536]
            upload = {"echo": "length", "echo_chunked": "chunked", "slow_upload": "slow"}[kind]
            want = len(body)
            if upload == "chunked":
                left = len(body)
                pieces = []
                while left > 0:
                    pieces.append(min(left, self.rng.randint(1, 32768)))
                    left -= pieces[-1]
        elif kind == "delay":
            path = f"/delay/{int(math.exp(self.rng.uniform(math.log(20), math.log(2000))))}"
        else:
            want = MiB
            path = "/bytes/1048576" if self.rng.random() < 0.75 else "/chunked/1048576"
            if kind == "slow_read":
                rate = self.rng.choice([128, 256, 512]) * 1024
        self.n += 1
        rec = Record(f"soak-{self.seed}-{self.n}", kind, method, path, conn)
        rec.want = want
        sha = hashlib.sha256(body).hexdigest() if body is not None else sha_x(want)
        return rec, (body, upload, pieces), want, sha, rate

    async def connection(self, rec):
        if rec.conn == "pooled":
            while self.pool:
                rd, wr, since = self.pool.pop()
                if wr.is_closing() or rd.at_eof() or time.monotonic() - since > 20:
                    wr.close()
                    continue
                rec.conn = "reused"
                return rd, wr
        try:
            return await asyncio.open_connection("127.0.0.1", self.port, limit=256 * 1024)
        except ConnectionRefusedError:
            raise Fail("connect_refused")
        except OSError as e:
            raise Fail("connect_error", str(e))

    async def send_body(self, wr, body, mode, pieces):
        try:
            if mode == "length":
                wr.write(body)
            elif mode == "chunked":
                i = 0
                for n in pieces:
                    piece = body[i:i + n]
                    wr.write(b"%x\r\n" % len(piece))
                    wr.write(piece)
                    wr.write(b"\r\n")
                    i += n
                wr.write(b"0\r\n\r\n")
            else:  # slow: 8 KiB pieces with pauses
                for i in range(0, len(body), 8192):
                    wr.write(body[i:i + 8192])
                    await wr.drain()
                    await asyncio.sleep(0.05)
            await wr.drain()
        except (ConnectionError, OSError):
            pass  # the answer (or its absence) tells what happened

    async def exchange(self, rec, send, want, sha, rate):
        body, upload, pieces = send
        rd, wr = await self.connection(rec)
        ok_to_pool = False
        sender = None
        try:
            h = f"{rec.method} {rec.path} HTTP/1.1\r\nHost: soak.test\r\nX-Request-Id: {rec.rid}\r\nUser-Agent: chaos-soak\r\n"
            if rec.conn == "close":
                h += "Connection: close\r\n"
            if upload == "chunked":
                h += "Transfer-Encoding: chunked\r\n"
            elif body is not None:
                h += f"Content-Length: {len(body)}\r\n"
            wr.write(h.encode() + b"\r\n")
            if body is not None:
                sender = asyncio.ensure_future(self.send_body(wr, body, upload, pieces))
            try:
                raw = await rd.readuntil(b"\r\n\r\n")
            except asyncio.IncompleteReadError as e:
                raise Fail("cut_head" if e.partial else "eof_before_head")
            except ConnectionResetError:
                raise Fail("reset_before_head")
            except asyncio.LimitOverrunError:
                raise Fail("bad_framing", "response head too long")
            rec.head_at = now()
            status, fields = parse_head(raw)
            rec.status = status
            rec.backend = fields.get("x-backend", [None])[0]
            framing, length = framing_of(rec.method, status, fields)
            hasher = hashlib.sha256()
            got = 0
            keep = bytearray() if status != 200 else None  # an error's short text, for the report

            def take(chunk):
                nonlocal got
                hasher.update(chunk)
                got += len(chunk)
                if keep is not None and len(keep) < 200:
                    keep.extend(chunk[:200])
            try:
                if framing == "length":
                    while got < length:
                        n = min(65536 if not rate else 16384, length - got)
                        chunk = await rd.read(n)
                        if not chunk:
                            raise Fail("cut_body_eof", f"{got}/{length} bytes")
                        take(chunk)
                        if rate:
                            await asyncio.sleep(len(chunk) / rate)
                elif framing == "chunked":
                    while True:
                        line = await rd.readuntil(b"\r\n")
                        m = re.fullmatch(rb"([0-9a-fA-F]{1,16})(;[^\r\n]*)?\r\n", line)
                        if not m:
                            raise Fail("bad_framing", f"chunk size line {line[:40]!r}")
                        size = int(m.group(1), 16)
                        if size == 0:
                            while (await rd.readuntil(b"\r\n")) != b"\r\n":
                                pass
                            break
                        while size:
                            chunk = await rd.read(min(size, 65536 if not rate else 16384))
                            if not chunk:
                                raise Fail("cut_body_eof", f"{got} bytes, inside a chunk")
                            take(chunk)
                            size -= len(chunk)
                            if rate:
                                await asyncio.sleep(len(chunk) / rate)
                        if await rd.readexactly(2) != b"\r\n":
                            raise Fail("bad_framing", "chunk not followed by CRLF")
                elif framing == "close":
                    raise Fail("bad_framing", "response without Content-Length or chunked framing")
            except asyncio.IncompleteReadError:
                raise Fail("cut_body_eof", f"{got} bytes")
            except ConnectionResetError:
                raise Fail("cut_body_reset", f"{got} bytes")
            rec.got = got
            if status == 200:
                if rec.method == "HEAD":
                    if fields.get("content-length", ["13"])[0] != "13":
                        raise Fail("corrupt_length", f"HEAD Content-Length {fields.get('content-length')}")
                elif got != want:
                    raise Fail("corrupt_length", f"{got} bytes, expected {want}")
                elif hasher.hexdigest() != sha:
                    raise Fail("corrupt_hash", f"{got} bytes with the wrong SHA-256")
            elif rec.backend is not None:
                raise Fail(f"backend_{status}", "the backend's own answer")
            else:
                raise Fail(f"sluice_{status}", bytes(keep).decode("latin-1").strip())
            closing = "close" in [v.lower() for v in fields.get("connection", [])]
            ok_to_pool = not closing and rec.conn != "close"
        finally:
            if sender is not None:
                if not sender.done():
                    sender.cancel()
                try:
                    await sender
                except BaseException:
                    pass
            if ok_to_pool and rec.conn != "fresh" and len(self.pool) < 64:
                self.pool.append((rd, wr, time.monotonic()))
            else:
                wr.close()

    async def one(self, plan):
        rec, send, want, sha, rate = plan
        rec.t0 = now()
        self.inflight += 1
        try:
            await asyncio.wait_for(self.exchange(rec, send, want, sha, rate), 45)
        except Fail as f:
            rec.cause, rec.detail = f.cause, f.detail
        except asyncio.TimeoutError:
            rec.cause = "client_timeout_body" if rec.head_at else "client_timeout_head"
        except (ConnectionError, OSError) as e:
            rec.cause = "cut_body_reset" if rec.head_at else "reset_before_head"
            rec.detail = repr(e)
        except Exception as e:
            rec.cause, rec.detail = "client_error", repr(e)
        finally:
            self.inflight -= 1
            rec.t1 = now()
            self.records.append(rec)

    async def run(self, rate, until, max_inflight, stop):
        tasks = set()
        lag = asyncio.ensure_future(self.watch_lag(stop))
        t = now()
        while not stop.is_set():
            t += self.rng.expovariate(rate)
            if t >= until:
                break
            d = t - now()
            if d > 0:
                await asyncio.sleep(d)
            plan = self.plan()  # drawn even when skipped, so the mix stays the seed's
            if self.inflight >= max_inflight:
                self.skipped += 1
                continue
            task = asyncio.ensure_future(self.one(plan))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        if tasks:
            await asyncio.wait(list(tasks), timeout=60)
        for rd, wr, _ in self.pool:
            wr.close()
        self.pool.clear()
        lag.cancel()
        await asyncio.sleep(0.2)


def parse_head(raw):
    lines = raw[:-4].split(b"\r\n")
    m = re.fullmatch(rb"HTTP/1\.1 (\d{3}) [^\r\n]*", lines[0])
    if not m:
        raise Fail("bad_framing", f"status line {lines[0][:60]!r}")
    fields = {}
    for line in lines[1:]:
        name, sep, value = line.partition(b":")
        if not sep or not re.fullmatch(rb"[!#$%&'*+.^_`|~0-9A-Za-z-]+", name):
            raise Fail("bad_framing", f"header line {line[:60]!r}")
        fields.setdefault(name.decode().lower(), []).append(value.strip().decode("latin-1"))
    return int(m.group(1)), fields


def framing_of(method, status, fields):
    te, cl = fields.get("transfer-encoding"), fields.get("content-length")
    if te and cl:
        raise Fail("bad_framing", "both Transfer-Encoding and Content-Length")
    if method == "HEAD" or status in (204, 304) or status < 200:
        return "none", 0
    if te:
        if te[-1].lower() != "chunked":
            raise Fail("bad_framing", f"Transfer-Encoding {te}")
        return "chunked", 0
    if cl:
        if len(set(cl)) != 1 or not cl[0].isdigit():
            raise Fail("bad_framing", f"Content-Length {cl}")
        return "length", int(cl[0])
    return "close", 0


# ---------------------------------------------------------------- classification

CORRUPT = {"corrupt_length", "corrupt_hash", "bad_framing"}


def classify(rec, chaos, log_entry, lag):
    """(unavoidable?, why) for one failed request."""
    s, e = rec.t0 - 0.05, rec.t1 + 0.05
    if rec.cause == "sluice_503" and rec.detail.startswith("no capacity") and \
            any(rec.t0 - 2 <= t <= rec.t0 + 0.1 and late > 0.25 for t, late in lag):
        return True, "shed by overload control: the client stalled, then sent its backlog at once"

    def hit(b):
        if b is None:
            return None
        if any(s <= k <= e for k in chaos.kills.get(b, [])):
            return f"{b} SIGKILLed while the request was in flight"
        if any(f0 <= e and f1 >= s for f0, f1 in chaos.freezes.get(b, [])):
            return f"{b} frozen (SIGSTOP) while the request was in flight"
        return None

    if rec.cause in ("cut_body_eof", "cut_body_reset", "client_timeout_body"):
        why = hit(rec.backend)
        if why:
            return True, "body already streaming: " + why
        return False, "cut body, its backend was not killed or frozen meanwhile"
    tried = (log_entry or {}).get("tried") or []
    last = tried[-1] if tried else None
    if rec.method == "POST" and rec.cause in ("sluice_502", "sluice_504", "reset_before_head", "eof_before_head"):
        why = hit(last)
        if why:
            return True, "POST already sent (not idempotent, not retried): " + why
    return False, ""


def context_of(rec, chaos):
    """The latest event that began before the failure ended and ended at most 8 s (recovery) before it began."""
    best = None
    for t0, t1, kind, b in chaos.windows:
        if t0 - 0.5 <= rec.t1 and rec.t0 <= t1 + 8 and (best is None or t0 > best[0]):
            best = (t0, f"{kind} {b}".strip())
    return best[1] if best else "no event"


def cpu_ticks(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])
    except OSError:
        return -1


def machine_ticks():
    """(busy, idle, steal) jiffies of the whole machine."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + v[4]
    steal = v[7] if len(v) > 7 else 0
    return sum(v[:8]) - idle - steal, idle, steal


def stalls(recs, sampler, client, start, duration):
    """Seconds in which far fewer requests completed than usual, with who had the CPU."""
    done = collections.Counter(int(r.t1 - start) for r in recs)
    if len(done) < 5:
        return
    usual = sorted(done.values())[len(done) // 2]
    tick = os.sysconf("SC_CLK_TCK")
    samples = sampler.samples
    lines = []
    for sec in sorted(done):
        if done[sec] >= 0.4 * usual or sec < 1 or sec >= duration:
            continue
        lag = max([l for t, l in client.lag if sec <= t - start < sec + 1] or [0])
        cpu = ""
        for a, b in zip(samples, samples[1:]):
            if a[0] - start <= sec + 0.5 < b[0] - start:
                dt = b[0] - a[0]
                busy, idle, steal = (y - x for x, y in zip(a[4], b[4]))
                cpu = (f"sluice CPU {(b[3] - a[3]) / tick / dt:.0%} of a core, machine idle "
                       f"{idle / tick / dt:.0%} steal {steal / tick / dt:.0%} (of 2 cores: 200%)")
        lines.append(f"  second {sec}: {done[sec]} completed (usual {usual}); client loop late {lag * 1000:.0f} ms; {cpu}")
    if lines:
        print("\nslow seconds (completions under 40% of the median second):")
        print("\n".join(lines[:20]))
    if client.lag:
        worst = max(client.lag, key=lambda x: x[1])
        print(f"client event loop: {len(client.lag)} wake-ups over 50 ms late, worst {worst[1] * 1000:.0f} ms at {worst[0] - start:.1f} s")


def read_access_log(path):
    out = {}
    try:
        with open(path, "rb") as f:
            for line in f:
                try:
                    j = json.loads(line)
                except ValueError:
                    continue
                rid = j.get("request_id")
                if rid:
                    out[rid] = j
    except OSError:
        pass
    return out


# ---------------------------------------------------------------- main


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--duration", type=int, default=180, help="seconds of traffic (default 180)")
    ap.add_argument("--seed", type=int, default=None, help="seed of the traffic mix and chaos schedule (default: random, printed)")
    ap.add_argument("--rate", type=float, default=250, help="requests/s, Poisson arrivals (default 250)")
    ap.add_argument("--max-inflight", type=int, default=400, help="client-side cap on requests in flight")
    ap.add_argument("--settle", type=int, default=12, help="quiet seconds after the traffic before the final fd/RSS sample")
    ap.add_argument("--keep", action="store_true", help="keep the work directory (configs, access log, stderr)")
    ap.add_argument("--verbose", action="store_true", help="print every failure")
    ap.add_argument("--retry-budget", default="20%", help="the cluster's retries.budget (default 20%%)")
    a = ap.parse_args()
    global RETRY_BUDGET
    RETRY_BUDGET = a.retry_budget
    seed = a.seed if a.seed is not None else random.randrange(1, 10**6)
    for exe in ("sluice", "sluice-backend"):
        if not os.path.exists(os.path.join(REL, exe)):
            sys.exit(f"missing {REL}/{exe}: run swift build -c release --product sluice --product sluice-backend")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    print(f"chaos soak: seed {seed}, {a.duration} s, {a.rate:g} requests/s")
    budget = "" if a.retry_budget == "20%" else f" --retry-budget {a.retry_budget}"
    print(f"reproduce: python3 Benchmarks/chaos-soak.py --duration {a.duration} --seed {seed} --rate {a.rate:g}{budget}", flush=True)

    tmp = tempfile.mkdtemp(prefix="sluice-soak-")
    backends = [Backend(n, "primary", tmp) for n in PRIMARIES] + [Backend(n, "standby", tmp) for n in STANDBY]
    port, admin = free_port(), free_port()
    cfg_path = os.path.join(tmp, "sluice.yaml")
    access_log = os.path.join(tmp, "access.log")

    def write_cfg(broken, weights):
        text = sluice_yaml(port, admin, access_log, backends, weights, broken)
        with open(cfg_path + ".tmp", "w") as f:
            f.write(text)
        os.replace(cfg_path + ".tmp", cfg_path)

    sched_rng = random.Random(seed * 7919 + 1)
    schedule, skipped_types = make_schedule(sched_rng, a.duration)
    stop = threading.Event()
    sluice = None
    watchdog = threading.Timer(a.duration + 180, lambda: (print("watchdog: run overdue, stopping", flush=True), stop.set()))
    watchdog.daemon = True
    watchdog.start()
    crashed = None
    sluice_err = open(os.path.join(tmp, "sluice.stderr"), "wb")
    try:
        for b in backends:
            b.start()
        write_cfg(None, BASE_WEIGHTS)
        sluice = subprocess.Popen([os.path.join(REL, "sluice"), "run", "--config", cfg_path],
                                  stdout=subprocess.DEVNULL, stderr=sluice_err)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:  # ready: every backend has passed a health check
                code, body = admin_get(admin, "/status", 1)
                if code == 200 and all(b["state"] == "healthy" and b.get("health_checks", {}).get("passed", 1) > 0
                                       for b in json.loads(body)["clusters"][0]["backends"]):
                    break
            except (OSError, ValueError, KeyError):
                pass
            if sluice.poll() is not None:
                sys.exit(f"sluice exited at start with {sluice.returncode}; see {tmp}/sluice.stderr")
            time.sleep(0.1)
        else:
            sys.exit("sluice did not become ready in 15 s")

        print("\nchaos schedule (seconds from the start of traffic):")
        for ev in schedule:
            extra = ev.get("backend", "") or ev.get("variant", "") or \
                (" ".join(f"{k}={v}" for k, v in ev["weights"].items()) if "weights" in ev else "")
            print(f"  {ev['at']:6.1f}  {ev['kind']:<11} {extra} {('for %.1f s' % ev['for']) if ev['for'] else ''}")
        if skipped_types:
            print(f"  (no time left for: {', '.join(skipped_types)})")
        print(flush=True)

        sampler = Sampler(sluice.pid, stop)
        sampler.sample()
        start_sample = sampler.samples[-1]
        sampler.start()
        chaos = Chaos(schedule, backends, sluice, cfg_path, write_cfg, admin, stop)
        block = random.Random(seed).randbytes(MiB)
        client = Client(port, random.Random(seed), seed, block)
        chaos.start_t = now()
        chaos.start()

        def progress():
            last = 0
            while not stop.wait(10):
                n = len(client.records)
                bad = sum(1 for r in client.records if r.cause != "ok")
                fds, rss = sampler.samples[-1][1:3] if sampler.samples else (-1, -1)
                print(f"  t={now() - chaos.start_t:5.0f}s  requests {n:6d} (+{(n - last) / 10:5.1f}/s)  failed {bad:4d}  "
                      f"in flight {client.inflight:3d}  sluice fds {fds}  RSS {rss / 1024:.1f} MiB", flush=True)
                last = n
                if sluice.poll() is not None:
                    print(f"  sluice EXITED with {sluice.returncode}", flush=True)
                    stop.set()

        threading.Thread(target=progress, daemon=True).start()
        asyncio.run(client.run(a.rate, chaos.start_t + a.duration, a.max_inflight, stop))
        traffic_end = now()
        chaos.join(timeout=30)
        if sluice.poll() is not None:
            crashed = sluice.returncode
        else:
            for b in backends:  # the schedule ends with everyone up; make sure
                if b.frozen:
                    b.freeze(False)
                if b.proc is None or b.proc.poll() is not None:
                    b.start()
            print(f"\ntraffic done; {a.settle} s of quiet before the last fd/RSS sample", flush=True)
            time.sleep(a.settle)
            sampler.sample()
        end_sample = sampler.samples[-1]
        stop.set()
        metrics = ""
        if crashed is None:
            try:
                metrics = admin_get(admin, "/metrics")[1].decode()
            except OSError:
                pass
            sluice.send_signal(signal.SIGTERM)
            try:
                rc = sluice.wait(20)
                if rc != 0:
                    crashed = f"exit status {rc} after SIGTERM"
            except subprocess.TimeoutExpired:
                crashed = "did not stop within 20 s of SIGTERM"
                sluice.kill()
                sluice.wait()
        sluice_err.flush()
        code = report(a, seed, client, chaos, sampler, start_sample, end_sample, crashed, access_log, tmp, metrics)
        return code
    finally:
        stop.set()
        watchdog.cancel()
        if sluice is not None and sluice.poll() is None:
            sluice.kill()
            sluice.wait()
        for b in backends:
            if b.proc is not None and b.proc.poll() is None:
                if b.frozen:
                    b.proc.send_signal(signal.SIGCONT)
                b.proc.send_signal(signal.SIGTERM)
                try:
                    b.proc.wait(5)
                except subprocess.TimeoutExpired:
                    b.proc.kill()
                    b.proc.wait()
        if a.keep:
            print(f"work directory kept: {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def report(a, seed, client, chaos, sampler, start_sample, end_sample, crashed, access_log, tmp, metrics):
    recs = client.records
    total = len(recs)
    logs = read_access_log(access_log)
    fails = [r for r in recs if r.cause != "ok"]
    corrupt = [r for r in fails if r.cause in CORRUPT]
    by_cause = collections.Counter()
    unavoidable, avoidable = [], []
    why_unavoidable = collections.Counter()
    for r in fails:
        if r.cause in CORRUPT:
            continue
        entry = logs.get(r.rid)
        un, why = classify(r, chaos, entry, client.lag)
        label = r.cause
        by_cause[(label, un)] += 1
        (unavoidable if un else avoidable).append((r, why, entry))
        if un:
            why_unavoidable[why.split(":")[0]] += 1
    per_k = lambda n: 1000.0 * n / max(total, 1)
    print("\n=== chaos soak report ===")
    print(f"seed {seed}; command: python3 Benchmarks/chaos-soak.py --duration {a.duration} --seed {seed} --rate {a.rate:g}")
    print(f"requests: {total} ({total / max(a.duration, 1):.0f}/s); client-side skips (over --max-inflight): {client.skipped}")
    kinds = collections.Counter(r.kind for r in recs)
    print("  mix: " + ", ".join(f"{k} {v}" for k, v in sorted(kinds.items())))
    conns = collections.Counter(r.conn for r in recs)
    print("  connections: " + ", ".join(f"{k} {v}" for k, v in sorted(conns.items())))
    ok = [r.t1 - r.t0 for r in recs if r.cause == "ok" and r.kind in ("get", "get_bytes", "echo", "head")]
    if ok:
        ok.sort()
        print(f"  small requests: p50 {1000 * ok[len(ok) // 2]:.1f} ms, p99 {1000 * ok[int(len(ok) * 0.99)]:.1f} ms")
    standby = sum(1 for r in recs if r.backend in STANDBY and r.cause == "ok")
    print(f"  answered by the standby: {standby}")
    outside = [x for x in avoidable if not context_of(x[0], chaos).startswith("all_down")]
    print(f"\nfailures: {len(fails)} = {per_k(len(fails)):.2f} per 1000; "
          f"avoidable {len(avoidable)} = {per_k(len(avoidable)):.2f} per 1000; "
          f"unavoidable {len(unavoidable)} = {per_k(len(unavoidable)):.2f} per 1000")
    for (cause, un), n in sorted(by_cause.items(), key=lambda x: -x[1]):
        print(f"  {cause:<22} {'unavoidable' if un else 'avoidable':<12} {n:6d}  {per_k(n):6.2f}/1000")
    for why, n in why_unavoidable.most_common():
        print(f"    unavoidable because: {why} ({n})")
    print(f"  avoidable outside the all-primaries-down windows (and their 8 s of recovery): {len(outside)} = "
          f"{per_k(len(outside)):.2f} per 1000")
    for t0, t1, kind, b in chaos.windows:
        if kind == "all_down":
            first = min((r.head_at for r in recs if r.backend in STANDBY and r.cause == "ok" and r.t0 >= t0), default=None)
            lost = sum(1 for r in fails if t0 <= r.t1 <= t1 + 8)
            print(f"  all primaries down at {t0 - chaos.start_t:.1f} s for {t1 - t0:.1f} s: first standby answer "
                  + (f"{first - t0:.2f} s after the kill" if first else "NEVER")
                  + f"; {lost} failures in the window and 8 s after")
    print(f"\ncorrupted bodies or framing: {len(corrupt)}")
    for r in corrupt[:20]:
        print(f"  CORRUPT {r.rid} {r.method} {r.path} conn={r.conn} backend={r.backend} {r.cause}: {r.detail}")
    cpu = os.times()
    print(f"client (this script) CPU: {cpu.user + cpu.system:.0f} s; machine load average {os.getloadavg()[0]:.1f}")
    print(f"crashes: {0 if crashed is None else 1}" + ("" if crashed is None else f" ({crashed})"))
    fds = [s[1] for s in sampler.samples if s[1] >= 0]
    rss = [s[2] for s in sampler.samples if s[2] >= 0]
    if fds:
        print(f"sluice fds: start {start_sample[1]}, peak {max(fds)}, end {end_sample[1]}")
        print(f"sluice RSS: start {start_sample[2] / 1024:.1f} MiB, peak {max(rss) / 1024:.1f} MiB, end {end_sample[2] / 1024:.1f} MiB")
    print("\nconfig reloads:")
    for good, text in chaos.reload_checks:
        print(f"  {'ok ' if good else 'BAD'} {text}")
    reload_bad = [t for g, t in chaos.reload_checks if not g]
    print("\nchaos events (t from the start of traffic):")
    start = chaos.start_t
    for t, what, b, detail in chaos.log:
        print(f"  {t - start:7.2f}  {what:<26} {b:<4} {detail}")
    print("\nfailures by event (the latest event that began before, or its 8 s of recovery), cause, "
          "sluice's reason and backends tried (of 3 allowed):")
    ctx = collections.Counter()
    for lst, k in ((avoidable, "avoidable"), (unavoidable, "unavoidable")):
        for r, why, entry in lst:
            tried = (entry or {}).get("tried")
            ctx[(context_of(r, chaos), k, r.cause, r.detail if r.cause.startswith("sluice_") else "",
                 "?" if tried is None else len(tried))] += 1
    for (c, k, cause, detail, nt), n in sorted(ctx.items()):
        print(f"  {c:<14} {k:<11} {n:5d}  {cause} {detail} (tried {nt})")
    stalls(recs, sampler, client, start, a.duration)
    if metrics:
        print("\nsluice metrics at the end:")
        for line in metrics.splitlines():
            if re.match(r"sluice_(retries_total|outlier_ejections_total|config_reloads_total|shed_total)\{?", line) \
                    and not line.endswith(" 0"):
                print("  " + line)
    shown = avoidable if not a.verbose else avoidable + unavoidable
    if shown:
        print(f"\n{'failures' if a.verbose else 'avoidable failures'} (first 40):")
        for r, why, entry in shown[:40]:
            e = entry or {}
            print(f"  {r.t0 - start:7.2f}-{r.t1 - start:7.2f} {r.rid} {r.method} {r.path} conn={r.conn} "
                  f"-> {r.cause} {r.detail} backend={r.backend} | log: status={e.get('status')} "
                  f"tried={e.get('tried')} backend={e.get('backend')} aborted={e.get('aborted', False)} "
                  f"| {why}")
    try:
        with open(os.path.join(tmp, "sluice.stderr"), errors="replace") as f:
            err = f.read().splitlines()
        print(f"\nsluice stderr: {len(err)} lines, by level and message:")
        msgs = collections.Counter()
        until, again = {}, []
        for l in err:
            m = re.match(r"(\S+) (\w+) sluice: (.*?) ?\[\w+\] (.*)", l)
            if not m:
                msgs[("?", l[:60])] += 1
                continue
            stamp, level, meta, msg = m.groups()
            msgs[(level, re.sub(r": /\S+", ": FILE", msg)[:90])] += 1
            if msg == "backend ejected":
                md = dict(kv.split("=", 1) for kv in meta.split() if "=" in kv)
                t = time.mktime(time.strptime(stamp[:19], "%Y-%m-%dT%H:%M:%S"))
                b = md.get("backend")
                if b in until and t < until[b] - 1:
                    again.append(f"{stamp[11:19]} {b} for {md.get('seconds')} s")
                until[b] = t + float(md.get("seconds", 0))
        for (level, msg), n in msgs.most_common():
            print(f"  {n:5d}  {level:<8} {msg}")
        if again:
            print(f"  backends ejected again while still ejected: {len(again)} ({', '.join(again[:8])})")
    except OSError:
        pass
    verdict = []
    if corrupt:
        verdict.append(f"{len(corrupt)} corrupted")
    if crashed is not None:
        verdict.append("sluice crashed")
    if reload_bad:
        verdict.append(f"{len(reload_bad)} reload checks failed")
    target = per_k(len(avoidable)) <= 1.0
    print(f"\nverdict: {'; '.join(verdict) if verdict else 'no corruption, no crash, reloads behaved'}; "
          f"avoidable failures {per_k(len(avoidable)):.2f}/1000 ({'within' if target else 'ABOVE'} the 1/1000 target)")
    return 1 if verdict else 0


if __name__ == "__main__":
    sys.exit(main())
