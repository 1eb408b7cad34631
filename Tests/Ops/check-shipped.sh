#!/usr/bin/env bash
# The files shipped for operators, checked without a build (the Swift test ShippedConfigsTests
# checks their metric names against a running sluice and the systemd unit with
# systemd-analyze): the Prometheus rules parse, their unit tests pass, and
# Tests/Ops/check_shipped.py's checks (texts, a firing and a silent case per alert, mutants
# caught, the dashboard's shape and queries). Needs promtool (Debian: prometheus) and
# python3-yaml.
set -euo pipefail
cd "$(dirname "$0")/../.."

if ! command -v promtool >/dev/null; then
    echo "check-shipped: promtool not found (Debian: apt-get install prometheus)" >&2
    exit 1
fi
promtool check rules Configs/prometheus/sluice-alerts.yml
promtool test rules Configs/prometheus/sluice-alerts.test.yml
python3 Tests/Ops/check_shipped.py
