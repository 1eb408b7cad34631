#!/usr/bin/env python3
"""The admin dashboard in a real browser (issue 10): Chromium driven by Playwright.

Starts three demo backends (two primaries, one standby) and the real `sluice` binary with a
fast health check, sends ~50 requests/s for 20 s, then opens the dashboard and checks what an
operator sees:

1. within 2 s of the page's load the request chart shows the seconds before the page opened
   (at least 10 seconds with requests: only the server's history can draw them that fast);
2. after a primary is killed: an event naming it as unhealthy in the list and as a marker on
   the time axis, its row unhealthy, the standby share chart above 0; then the screenshot
   (docs/images/dashboard-failover.png, 1280x900, full page);
3. clicking drain on another backend turns its row to draining (and /status agrees);
4. a cluster and a backend named with markup show as text: no element, no script, no dialog;
   drain works on them too (their names are percent-encoded in the runtime API's path);
5. on a phone viewport (390x844) nothing overflows horizontally;
6. with `admin.token_file`, the first runtime call asks for the token (a prompt), once.

Any other dialog or an uncaught page error fails the test. Every process started here is ended by its
PID in `finally`; the whole test is bounded by an alarm (90 s).

Usage: dashboard_test.py [--sluice PATH] [--backend PATH] [--screenshot PATH]
"""

import argparse
import http.client
import json
import os
import re
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time

from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import sync_playwright

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
MARKUP_CLUSTER = "<img src=x onerror=alert(1)>"
MARKUP_BACKEND = "</script><script>alert(1)</script>"
WARMUP_SECONDS = 20
TOTAL_SECONDS = 90


class Failure(Exception):
    pass


def check(condition, message):
    if not condition:
        raise Failure(message)


def wait_for(what, predicate, timeout):
    """Polls `predicate` every 50 ms until it returns a true value; fails after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise Failure(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


def start_backend(binary, name, procs):
    p = subprocess.Popen([binary, "--port", "0", "--name", name], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    procs.append(p)
    ready, _, _ = select.select([p.stdout], [], [], 10)
    check(ready, f"backend {name} printed no port within 10 s")
    line = p.stdout.readline().decode()
    m = re.search(r"listening 127\.0\.0\.1:(\d+)", line)
    check(m, f"backend {name}: unexpected first line {line!r}")
    return p, int(m.group(1))


def log_port(log_path, marker, timeout=20):
    def find():
        with open(log_path, errors="replace") as f:
            for line in f:
                if marker in line:
                    m = re.search(r"address=[0-9.]+:(\d+)", line)
                    if m:
                        return int(m.group(1))
        return None

    return wait_for(f"'{marker}' in sluice's log", find, timeout)


def admin_call(port, method, path, body=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        c.request(method, path, body=body)
        r = c.getresponse()
        return r.status, r.read().decode()
    finally:
        c.close()


class Traffic(threading.Thread):
    """Keep-alive GETs at about `rate` per second on `path`; counts answers by status class."""

    def __init__(self, port, path, rate):
        super().__init__(daemon=True)
        self.port, self.path, self.interval = port, path, 1.0 / rate
        self.stopping = threading.Event()
        self.counts = {}

    def run(self):
        conn = None
        next_at = time.monotonic()
        while not self.stopping.is_set():
            try:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                conn.request("GET", self.path)
                r = conn.getresponse()
                r.read()
                key = f"{r.status // 100}xx"
                if r.getheader("Connection", "").lower() == "close":
                    conn.close()
                    conn = None
            except (OSError, http.client.HTTPException) as e:
                key = type(e).__name__
                if conn is not None:
                    conn.close()
                conn = None
            self.counts[key] = self.counts.get(key, 0) + 1
            next_at += self.interval
            self.stopping.wait(max(0.0, next_at - time.monotonic()))
        if conn is not None:
            conn.close()


def config_yaml(p1, p2, p3):
    # Names are YAML strings in double quotes; the markup needs no escape there.
    return f"""workers: 2
admin: {{ listen: 127.0.0.1:0 }}
access_log: {{ path: off }}
listeners:
  - name: web
    listen: 127.0.0.1:0
    routes:
      - {{ match: {{ path_prefix: /markup/ }}, cluster: "{MARKUP_CLUSTER}" }}
      - {{ cluster: app }}
clusters:
  - name: app
    backends:
      - {{ name: app1, address: 127.0.0.1:{p1} }}
      - {{ name: app2, address: 127.0.0.1:{p2} }}
    standby:
      - {{ name: standby1, address: 127.0.0.1:{p3} }}
    health_check: {{ type: http, path: /health, interval: 200ms, timeout: 150ms, rise: 2, fall: 2 }}
    retries: {{ attempts: 2, on: [connect_failure, reset_before_response, 502, 503] }}
  - name: "{MARKUP_CLUSTER}"
    backends:
      - {{ name: "{MARKUP_BACKEND}", address: 127.0.0.1:{p2} }}
"""


def start_token_sluice(binary, tmp, port, procs):
    """A second sluice whose admin API needs a token; returns its admin port."""
    token = os.path.join(tmp, "token")
    with open(token, "w") as f:
        f.write("s3cret\n")
    config = os.path.join(tmp, "token.yaml")
    with open(config, "w") as f:
        f.write(f"""admin: {{ listen: 127.0.0.1:0, token_file: {token} }}
access_log: {{ path: off }}
listeners:
  - {{ name: web, listen: 127.0.0.1:0, routes: [ {{ cluster: app }} ] }}
clusters:
  - {{ name: app, backends: [ {{ name: a, address: 127.0.0.1:{port} }} ] }}
""")
    log_path = os.path.join(tmp, "token-sluice.log")
    with open(log_path, "w") as log:
        procs.append(subprocess.Popen([binary, "run", "--config", config], stdout=log, stderr=subprocess.STDOUT))
    return log_port(log_path, "admin listening")


# What the page shows, read from the DOM (the page's data-* attributes and text).
CHART_JS = """([cluster, chart]) => {
  const s = [...document.querySelectorAll('section.cluster')].find(x => x.dataset.cluster === cluster);
  const p = s && s.querySelector(`svg[data-chart="${chart}"]`);
  if (!p) return null;
  const paths = [...p.querySelectorAll('path[data-series]')].map(x => x.getAttribute('d').length);
  return {points: +p.dataset.points, nonzero: +p.dataset.nonzero, max: +p.dataset.max,
          last: p.dataset.last === '' ? null : +p.dataset.last, events: +p.dataset.events,
          titles: [...p.querySelectorAll('g.ev title')].map(t => t.textContent), paths: paths};
}"""
ROW_JS = """([cluster, backend]) => {
  const s = [...document.querySelectorAll('section.cluster')].find(x => x.dataset.cluster === cluster);
  const r = s && [...s.querySelectorAll('tr[data-backend]')].find(x => x.dataset.backend === backend);
  return r ? {state: r.dataset.state, text: r.querySelector('td[data-label="state"]').textContent,
              name: r.querySelector('td.name').firstChild.textContent,
              spark: +r.querySelector('svg.spark').dataset.points} : null;
}"""


def run(args):
    procs, tmp = [], tempfile.mkdtemp(prefix="sluice-dashboard-")
    dialogs, page_errors = [], []
    traffic = []
    log_path = os.path.join(tmp, "sluice.log")
    try:
        b1, p1 = start_backend(args.backend, "app1", procs)
        _, p2 = start_backend(args.backend, "app2", procs)
        _, p3 = start_backend(args.backend, "standby1", procs)
        config = os.path.join(tmp, "sluice.yaml")
        with open(config, "w") as f:
            f.write(config_yaml(p1, p2, p3))
        with open(log_path, "w") as log:
            procs.append(subprocess.Popen([args.sluice, "run", "--config", config], stdout=log, stderr=subprocess.STDOUT))
        admin = log_port(log_path, "admin listening")
        web = log_port(log_path, "listener=web")
        base = f"http://127.0.0.1:{admin}/"

        traffic = [Traffic(web, "/", 50), Traffic(web, "/markup/", 5)]
        for t in traffic:
            t.start()
        time.sleep(WARMUP_SECONDS)  # the traffic the page must show at once (not a synchronization)
        check(traffic[0].counts.get("2xx", 0) > 40 * WARMUP_SECONDS, f"the traffic did not flow: {traffic[0].counts}")

        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=args.chromium, headless=True, args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            page.on("pageerror", lambda e: page_errors.append(str(e)))

            # 1. The last minutes are drawn at once.
            page.goto(base, wait_until="load")
            loaded = time.monotonic()
            page.wait_for_function(
                f"() => ({CHART_JS})(['app', 'requests']) && ({CHART_JS})(['app', 'requests']).nonzero >= 10", timeout=2000)
            drawn = time.monotonic() - loaded
            req = page.evaluate(CHART_JS, ["app", "requests"])
            check(req["max"] >= 20 and req["paths"] and req["paths"][0] > 100, f"the request chart is empty: {req}")
            lat = page.evaluate(CHART_JS, ["app", "latency"])
            check(lat["nonzero"] >= 10, f"the latency chart is empty: {lat}")
            print(f"ok 1: request chart drawn {drawn:.2f} s after load: {req['nonzero']} seconds with requests, max {req['max']}/s")

            # 2. A primary dies: event, row, standby share; then the screenshot.
            b1.kill()
            b1.wait(5)
            event = wait_for(
                "an event 'app1 … unhealthy' in the list",
                lambda: page.evaluate(
                    "() => [...document.querySelectorAll('#events li')].map(li => li.textContent)"
                    ".find(t => t.includes('app1') && t.includes('unhealthy'))"),
                15)
            wait_for("app1's row unhealthy", lambda: (page.evaluate(ROW_JS, ["app", "app1"]) or {}).get("state") == "unhealthy", 10)
            marks = wait_for(
                "a marker naming app1 on the request chart's time axis",
                lambda: [t for t in page.evaluate(CHART_JS, ["app", "requests"])["titles"] if "app1" in t and "unhealthy" in t],
                5)
            standby = wait_for(
                "the standby share chart above 0 for 3 seconds",
                lambda: (lambda c: c if c["nonzero"] >= 3 and (c["last"] or 0) > 0 else None)(page.evaluate(CHART_JS, ["app", "standby"])),
                15)
            print(f"ok 2: event {event!r}, marker {marks[0]!r}, standby share now {standby['last']:.1f}%")
            os.makedirs(os.path.dirname(args.screenshot), exist_ok=True)
            page.screenshot(path=args.screenshot, full_page=True)
            print(f"   screenshot {args.screenshot}")

            # 3. Drain from the page.
            app2 = page.locator("section.cluster[data-cluster='app'] tr[data-backend='app2']")
            app2.locator("button[data-action='drain']").click()
            wait_for("app2's row draining", lambda: (page.evaluate(ROW_JS, ["app", "app2"]) or {}).get("text") == "draining", 5)
            _, body = admin_call(admin, "GET", "/status")
            states = {b["name"]: b["state"] for c in json.loads(body)["clusters"] if c["name"] == "app" for b in c["backends"]}
            check(states.get("app2") == "draining", f"/status after the click: {states}")
            print("ok 3: drain clicked, app2 draining on the page and in /status")

            # 3b. A backend added through the API shows where it came from.
            status, body = admin_call(admin, "POST", "/clusters/app/backends",
                                      json.dumps({"name": "scaled1", "address": f"127.0.0.1:{p3}"}))
            check(status == 201, f"POST /clusters/app/backends: {status} {body}")
            tier = wait_for(
                "the added backend's row with its source",
                lambda: page.evaluate(
                    "() => { const r = document.querySelector(\"section.cluster[data-cluster='app'] tr[data-backend='scaled1']\");"
                    " return r && r.querySelector('td.tier').textContent; }"),
                5)
            check("api" in tier, f"the source is not shown: {tier!r}")
            print(f"ok 3b: an API-added backend's row shows its source: {tier!r}")

            # 4. Markup names are text.
            row = page.evaluate(ROW_JS, [MARKUP_CLUSTER, MARKUP_BACKEND])
            check(row is not None and row["name"] == MARKUP_BACKEND, f"the markup backend's row: {row}")
            heading = page.evaluate(
                "(n) => [...document.querySelectorAll('section.cluster')].find(x => x.dataset.cluster === n).querySelector('h2').firstChild.textContent",
                MARKUP_CLUSTER)
            check(heading == MARKUP_CLUSTER, f"the markup cluster's heading: {heading!r}")
            injected = page.evaluate("() => ({img: document.querySelectorAll('img').length, scripts: document.scripts.length})")
            check(injected == {"img": 0, "scripts": 1}, f"markup became elements: {injected}")
            section = page.locator("section.cluster").filter(has=page.locator("h2", has_text=MARKUP_CLUSTER))
            section.locator("tr[data-backend] button[data-action='drain']").click()
            wait_for("the markup backend's row draining",
                     lambda: (page.evaluate(ROW_JS, [MARKUP_CLUSTER, MARKUP_BACKEND]) or {}).get("text") == "draining", 5)
            print("ok 4: markup names shown as text, no element made of them, drain works on them")

            # 5. A phone.
            phone = browser.new_page(viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True, has_touch=True)
            phone.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            phone.on("pageerror", lambda e: page_errors.append(str(e)))
            phone.goto(base, wait_until="load")
            phone.wait_for_function(f"() => (({CHART_JS})(['app', 'requests']) || {{}}).nonzero >= 10", timeout=2000)
            widths = phone.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
            check(widths[0] <= widths[1], f"the phone page overflows: scrollWidth {widths[0]} > innerWidth {widths[1]}")
            print(f"ok 5: phone: scrollWidth {widths[0]} <= innerWidth {widths[1]}")

            # 6. With admin.token_file, the first runtime call asks for the token once.
            token_admin = start_token_sluice(args.sluice, tmp, p2, procs)
            guarded = browser.new_page(viewport={"width": 1280, "height": 900})
            prompts = []

            def answer(d):
                prompts.append((d.type, d.message))
                d.accept("s3cret") if d.type == "prompt" else d.dismiss()

            guarded.on("dialog", answer)
            guarded.on("pageerror", lambda e: page_errors.append(str(e)))
            guarded.goto(f"http://127.0.0.1:{token_admin}/", wait_until="load")
            guarded.wait_for_function(f"() => ({ROW_JS})(['app', 'a'])", timeout=5000)
            row_a = guarded.locator("section.cluster[data-cluster='app'] tr[data-backend='a']")
            row_a.locator("button[data-action='drain']").click()
            wait_for("a draining behind the token", lambda: (guarded.evaluate(ROW_JS, ["app", "a"]) or {}).get("text") == "draining", 5)
            row_a.locator("button[data-action='enable']").click()
            wait_for("a enabled with the kept token", lambda: (guarded.evaluate(ROW_JS, ["app", "a"]) or {}).get("text") == "healthy", 5)
            check(len(prompts) == 1 and prompts[0][0] == "prompt" and "token" in prompts[0][1], f"the token prompts: {prompts}")
            print("ok 6: token asked once (a prompt), drain and enable went through with it")

            check(not dialogs, f"a dialog opened: {dialogs}")
            check(not page_errors, f"page errors: {page_errors}")
            browser.close()
        print("dashboard test passed")
    except BaseException:
        if os.path.exists(log_path):
            with open(log_path, errors="replace") as f:
                tail = f.readlines()[-30:]
            sys.stderr.write("--- sluice log (last 30 lines) ---\n" + "".join(tail))
        raise
    finally:
        for t in traffic:
            t.stopping.set()
        for p in procs:
            if p.poll() is None:
                p.terminate()
        for p in procs:
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(5)
            if p.stdout:
                p.stdout.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sluice", default=os.environ.get("SLUICE_BIN", os.path.join(ROOT, ".build/debug/sluice")))
    ap.add_argument("--backend", default=os.environ.get("SLUICE_BACKEND_BIN", os.path.join(ROOT, ".build/debug/sluice-backend")))
    ap.add_argument("--chromium", default=os.environ.get("CHROMIUM", "/usr/bin/chromium"))
    ap.add_argument("--screenshot", default=os.path.join(ROOT, "docs/images/dashboard-failover.png"))
    args = ap.parse_args()

    def too_long(*_):
        raise Failure(f"the test took longer than {TOTAL_SECONDS} s")

    signal.signal(signal.SIGALRM, too_long)
    signal.alarm(TOTAL_SECONDS)
    try:
        run(args)
    except (Failure, PlaywrightError) as e:
        print(f"FAIL: {e}", file=sys.stderr)
        sys.exit(1)
    finally:
        signal.alarm(0)


if __name__ == "__main__":
    main()
