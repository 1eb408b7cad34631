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

# The keepalived pair's file: keepalived's own config test must print nothing (it reports
# every problem as "(Line N) ..."; its exit status says nothing, 2.2.7 ends itself with
# SIGTERM either way), and a broken copy must be caught, so the check can fail.
if ! command -v keepalived >/dev/null; then
    echo "check-shipped: keepalived not found (Debian: apt-get install keepalived)" >&2
    exit 1
fi
# In its own session: it ends itself with SIGTERM, which must not reach this script.
ka_check() { setsid -w keepalived --config-test -f "$1" 2>&1 || true; }
out="$(ka_check Configs/keepalived/keepalived.conf)"
out="$(printf '%s\n' "$out" | grep -v '^Terminated$' || true)"
if [ -n "$out" ]; then
    echo "check-shipped: Configs/keepalived/keepalived.conf: $out" >&2
    exit 1
fi
broken="$(mktemp)"
sed 's/virtual_router_id 51/virtual_router_id 510/' Configs/keepalived/keepalived.conf >"$broken"
if ! ka_check "$broken" | grep -q "Line"; then
    rm -f "$broken"
    echo "check-shipped: keepalived --config-test did not catch a broken copy" >&2
    exit 1
fi
rm -f "$broken"
echo "check_shipped: keepalived.conf passes keepalived --config-test (a broken copy is caught)"

# The pair's ARP settings (the pair test applies them with sysctl -p in its namespaces): each
# line names a key this kernel has, with a number.
sysctl_file=Configs/keepalived/sluice-vip.sysctl.conf
keys=0
while IFS= read -r line; do
    case "$line" in ''|'#'*) continue ;; esac
    key="${line%%=*}"; key="${key// /}"; value="${line#*=}"; value="${value// /}"
    if [ ! -e "/proc/sys/${key//.//}" ]; then
        echo "check-shipped: $sysctl_file: no sysctl $key on this kernel" >&2; exit 1
    fi
    case "$value" in ''|*[!0-9]*) echo "check-shipped: $sysctl_file: $key = '$value' is not a number" >&2; exit 1 ;; esac
    keys=$((keys + 1))
done < "$sysctl_file"
[ "$keys" = 2 ] || { echo "check-shipped: $sysctl_file: expected arp_ignore and arp_announce, found $keys settings" >&2; exit 1; }
grep -q "static_ipaddress" Configs/keepalived/keepalived.conf || { echo "check-shipped: keepalived.conf lost its static_ipaddress (the address on lo)" >&2; exit 1; }
echo "check_shipped: sluice-vip.sysctl.conf names $keys sysctls this kernel has"
