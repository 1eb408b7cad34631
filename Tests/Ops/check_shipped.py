#!/usr/bin/env python3
"""Checks of the files shipped for operators that promtool alone does not make.

Run by Tests/Ops/check-shipped.sh after `promtool check rules` and `promtool test rules`:

- every alert has a severity, a summary naming its labels and a runbook line that points at
  its section of docs/alerts.md (which must exist);
- the unit tests have, for every alert, a case where it fires and one where it must not,
  and they notice when an alert stops firing (each alert's expression replaced in turn by
  one that never holds must make `promtool test rules` fail);
- the Grafana dashboard is well formed (schema version, the datasource and cluster
  variables, panel ids, the grid) and every query parses as PromQL (promtool checks them as
  recording rules once Grafana's variables are replaced by sample values).

Which metric names the queries use is checked against a real /metrics by the Swift test
ShippedConfigsTests. Needs python3-yaml and promtool.
"""

import json
import os
import re
import subprocess
import sys
import tempfile

import yaml

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
RULES = os.path.join(ROOT, "Configs/prometheus/sluice-alerts.yml")
TESTS = os.path.join(ROOT, "Configs/prometheus/sluice-alerts.test.yml")
DASHBOARD = os.path.join(ROOT, "Configs/grafana/sluice.json")
ALERTS_DOC = os.path.join(ROOT, "docs/alerts.md")
ROWS = ["Traffic", "Latency", "Backends", "Overload", "Cache", "Process"]

failures = []


def fail(message):
    failures.append(message)


def load_yaml(path):
    with open(path, encoding="utf-8") as f:
        return yaml.safe_load(f)


def alert_rules(rules):
    return [r for g in rules["groups"] for r in g["rules"] if "alert" in r]


def promtool(*args, cwd=None):
    return subprocess.run(["promtool", *args], cwd=cwd, capture_output=True, text=True)


def doc_headings():
    with open(ALERTS_DOC, encoding="utf-8") as f:
        return {m.group(1).strip().lower() for m in re.finditer(r"^##+\s+(.+)$", f.read(), re.M)}


def check_alert_texts(alerts):
    headings = doc_headings()
    for a in alerts:
        name = a["alert"]
        if a.get("labels", {}).get("severity") not in ("critical", "warning"):
            fail(f"{name}: labels.severity must be critical or warning")
        notes = a.get("annotations", {})
        if "{{ $labels." not in notes.get("summary", ""):
            fail(f"{name}: annotations.summary must name the alert's labels ({{{{ $labels.cluster }}}} ...)")
        runbook = notes.get("runbook", "")
        anchor = f"docs/alerts.md#{name.lower()}"
        if not runbook.startswith(anchor + ":"):
            fail(f"{name}: annotations.runbook must start with '{anchor}:'")
        if "\n" in runbook:
            fail(f"{name}: annotations.runbook must be one line")
        if name.lower() not in headings:
            fail(f"{name}: docs/alerts.md has no heading '{name}'")


def check_cases(alerts, tests):
    fires, silent = set(), set()
    for t in tests["tests"]:
        for case in t.get("alert_rule_test", []):
            (fires if case.get("exp_alerts") else silent).add(case["alertname"])
    names = {a["alert"] for a in alerts}
    for name in sorted(names):
        if name not in fires:
            fail(f"{name}: no test case where it fires")
        if name not in silent:
            fail(f"{name}: no test case where it must not fire (exp_alerts: [])")
    for name in sorted((fires | silent) - names):
        fail(f"{name}: tested, but no such alert in sluice-alerts.yml")


def check_mutants(rules, alerts):
    """Each alert made never to fire, in turn: the unit tests must fail."""
    with open(TESTS, encoding="utf-8") as f:
        test_text = f.read()
    for a in alerts:
        name = a["alert"]
        mutant = json.loads(json.dumps(rules))
        for g in mutant["groups"]:
            for r in g["rules"]:
                if r.get("alert") == name:
                    r["expr"] = "vector(1) == 2"
        with tempfile.TemporaryDirectory() as d:
            with open(os.path.join(d, "sluice-alerts.yml"), "w", encoding="utf-8") as f:
                yaml.safe_dump(mutant, f, sort_keys=False)
            with open(os.path.join(d, "sluice-alerts.test.yml"), "w", encoding="utf-8") as f:
                f.write(test_text)
            if promtool("test", "rules", "sluice-alerts.test.yml", cwd=d).returncode == 0:
                fail(f"{name}: the unit tests still pass when the alert never fires")


def grafana_exprs(dashboard):
    """Every PromQL text of the dashboard: panel targets, annotations, variable queries."""
    out = []
    for p in dashboard["panels"]:
        for t in p.get("targets", []):
            out.append((f"panel {p['id']} {p['title']!r}", t["expr"]))
    for a in dashboard["annotations"]["list"]:
        if "expr" in a:
            out.append((f"annotation {a['name']!r}", a["expr"]))
    return out


def sample_values(expr):
    """Grafana's variables replaced by values Prometheus accepts; `${1}` of label_replace stays."""
    expr = re.sub(r"\$__(rate_interval|interval|range)\b", "5m", expr)
    return re.sub(r"\$(cluster|instance)\b", ".*", expr)


def overlaps(a, b):
    return a["x"] < b["x"] + b["w"] and b["x"] < a["x"] + a["w"] and a["y"] < b["y"] + b["h"] and b["y"] < a["y"] + a["h"]


def check_dashboard(dashboard):
    if dashboard.get("schemaVersion", 0) < 39:
        fail("dashboard: schemaVersion below 39")
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    ds = variables.get("datasource")
    if not ds or ds.get("type") != "datasource" or ds.get("query") != "prometheus":
        fail("dashboard: no Prometheus datasource variable named 'datasource'")
    cluster = variables.get("cluster")
    if not cluster or not cluster.get("definition", "").startswith("label_values(sluice_requests_total"):
        fail("dashboard: the cluster variable must be label_values(sluice_requests_total..., cluster)")
    rows = [p["title"] for p in dashboard["panels"] if p["type"] == "row"]
    if rows != ROWS:
        fail(f"dashboard: rows {rows}, expected {ROWS}")
    ids = [p["id"] for p in dashboard["panels"]]
    if len(ids) != len(set(ids)):
        fail("dashboard: panel ids are not unique")
    grids = []
    for p in dashboard["panels"]:
        g = p["gridPos"]
        if g["x"] < 0 or g["x"] + g["w"] > 24:
            fail(f"dashboard: panel {p['id']} leaves the 24-column grid")
        for q, other in grids:
            if overlaps(g, other):
                fail(f"dashboard: panels {q} and {p['id']} overlap")
        grids.append((p["id"], g))
        if p["type"] == "row":
            continue
        if p.get("datasource", {}).get("uid") != "${datasource}":
            fail(f"dashboard: panel {p['id']} does not use the datasource variable")
        if not p.get("targets"):
            fail(f"dashboard: panel {p['id']} has no query")
        for t in p.get("targets", []):
            if t.get("datasource", {}).get("uid") != "${datasource}":
                fail(f"dashboard: a query of panel {p['id']} does not use the datasource variable")
    exprs = grafana_exprs(dashboard)
    rules = {"groups": [{"name": "dashboard", "rules": [
        {"record": f"dashboard:query_{i}", "expr": sample_values(e)} for i, (_, e) in enumerate(exprs)]}]}
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "dashboard-queries.yml")
        with open(path, "w", encoding="utf-8") as f:
            yaml.safe_dump(rules, f, sort_keys=False)
        r = promtool("check", "rules", path)
        if r.returncode != 0:
            fail("dashboard: a query does not parse:\n" + r.stdout + r.stderr)
    return len(exprs)


def main():
    rules = load_yaml(RULES)
    alerts = alert_rules(rules)
    check_alert_texts(alerts)
    check_cases(alerts, load_yaml(TESTS))
    check_mutants(rules, alerts)
    with open(DASHBOARD, encoding="utf-8") as f:
        queries = check_dashboard(json.load(f))
    if failures:
        for m in failures:
            print("check_shipped: " + m, file=sys.stderr)
        return 1
    print(f"check_shipped: {len(alerts)} alerts (each fires and stays silent in its tests, each "
          f"mutant caught), {queries} dashboard queries parse")
    return 0


if __name__ == "__main__":
    sys.exit(main())
