#!/usr/bin/env bash
# A keepalived pair of Sluice nodes, for real, in network namespaces this script creates
# (docs/operations.md "Running a pair"): two nodes, each with a backend, Sluice and keepalived
# started from the shipped Configs/keepalived/keepalived.conf, a client namespace sending one
# request per new connection to the virtual address, and a bridge namespace joining them.
# Addresses are from 198.51.100.0/24 (TEST-NET-2, RFC 5737; the shipped file's 192.0.2.x are
# rewritten to it, because some machines, this CI's among them, use TEST-NET-1 themselves) and
# exist only inside those namespaces; every packet starts and ends there (the root namespace
# only runs `ip`, which speaks netlink). Each node also gets the shipped ARP settings
# (Configs/keepalived/sluice-vip.sysctl.conf) for the address kept on lo.
#
# Checks: a planned failover (SIGTERM on the master's Sluice) loses no request; a crash
# (SIGKILL) interrupts service for less than 4 s; failback returns the address to the master.
#
#   bash Tests/Ops/pair-netns.sh                        # the CI run: one round, shipped mode
#   bash Tests/Ops/pair-netns.sh --mode weight --rounds 5   # measure "weight -60" instead of FAULT
#
# Skips (exit 0, with the reason) without root, `ip netns` or keepalived. Removes its
# namespaces and ends the processes it started, by pid, on every exit. PAIR_KEEP=DIR keeps
# the logs, the client's lines, the neighbour entry over time and (with tcpdump) a capture of
# the client's interface in DIR.
set -euo pipefail
cd "$(dirname "$0")/../.."

mode=fault
rounds=1
while [ $# -gt 0 ]; do
    case "$1" in
        --mode) mode="$2"; shift 2 ;;
        --rounds) rounds="$2"; shift 2 ;;
        *) echo "usage: $0 [--mode fault|weight] [--rounds N]" >&2; exit 2 ;;
    esac
done

skip() { echo "pair-netns: SKIPPED: $*"; exit 0; }
[ "$(id -u)" = 0 ] || skip "needs root for ip netns"
command -v ip >/dev/null || skip "no ip command (iproute2)"
command -v keepalived >/dev/null || skip "no keepalived"
command -v curl >/dev/null || skip "no curl (the vrrp_script uses it)"
bin="$(swift build --show-bin-path)"
for b in sluice sluice-backend; do
    [ -x "$bin/$b" ] || { echo "pair-netns: $bin/$b is missing: run swift build first" >&2; exit 1; }
done

p="slp$$"
A="${p}a" B="${p}b" C="${p}c" BR="${p}x"
NET=198.51.100
VIP=$NET.10
work="$(mktemp -d)"
pids=()
cleanup() {
    set +e
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null; done
    sleep 0.5
    for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null; done
    wait 2>/dev/null
    if [ -n "${PAIR_KEEP:-}" ]; then mkdir -p "$PAIR_KEEP" && cp -r "$work"/. "$PAIR_KEEP"/; fi
    for ns in "$A" "$B" "$C" "$BR"; do ip netns del "$ns" 2>/dev/null; done
    rm -rf "$work"
}
trap cleanup EXIT

fail() {
    echo "pair-netns: FAILED: $*" >&2
    for f in "$work"/*.log; do echo "--- $f (last lines)" >&2; tail -15 "$f" >&2; done
    exit 1
}

# Times in microseconds (bash's EPOCHREALTIME), printed as seconds by `secs`.
now_us() { local t=$EPOCHREALTIME; echo $(( ${t/./} )); }
now() { echo "$EPOCHREALTIME"; }
secs() { printf '%d.%02d' $(( $1 / 1000000 )) $(( $1 % 1000000 / 10000 )); }
# Polls a command every 50 ms for up to $1 seconds; 0 when it succeeded.
wait_for() {
    local limit="$1"; shift
    local end=$(( $(now_us) + limit * 1000000 ))
    while [ "$(now_us)" -lt "$end" ]; do
        if "$@" >/dev/null 2>&1; then return 0; fi
        sleep 0.05
    done
    return 1
}
vip_on() { ip -n "$1" -4 addr show dev eth0 | grep -q " $VIP/"; }
alive() { kill -0 "$1" 2>/dev/null; }
gone() { ! kill -0 "$1" 2>/dev/null; }

# ── The network: a bridge in its own namespace, one veth pair per namespace into it ──
ip netns add "$BR" 2>/dev/null || skip "ip netns add failed (no network namespaces here)"
for ns in "$A" "$B" "$C"; do ip netns add "$ns"; done
ip -n "$BR" link add br0 type bridge
ip -n "$BR" link set br0 up
declare -A addr=(["$A"]=$NET.11 ["$B"]=$NET.12 ["$C"]=$NET.100)
for ns in "$A" "$B" "$C"; do
    port="p${ns: -1}"
    ip -n "$ns" link add eth0 type veth peer name "$port" netns "$BR"
    ip -n "$BR" link set "$port" master br0 up
    ip -n "$ns" addr add "${addr[$ns]}/24" dev eth0
    ip -n "$ns" link set eth0 up
    ip -n "$ns" link set lo up
done
# Before anything is sent: the namespaces exist and hold their addresses, and the root
# namespace has none of them.
for ns in "$A" "$B" "$C" "$BR"; do ip netns list | grep -qw "$ns" || fail "namespace $ns missing"; done
for ns in "$A" "$B" "$C"; do ip -n "$ns" -4 addr show dev eth0 | grep -q "${addr[$ns]}/" || fail "$ns has no address"; done
if ip -4 addr show | grep -q " ${NET//./\\.}\."; then fail "the root namespace has an address in $NET.0/24: refusing to run"; fi

# ── A node: backend, Sluice, keepalived ──
cat > "$work/sluice.yaml" <<EOF
workers: 1
access_log: { path: off }
admin: { listen: 127.0.0.1:9901 }
timeouts: { ready_grace: 3s, drain: 5s }
listeners:
  - { name: web, listen: 0.0.0.0:80, routes: [ { cluster: app } ] }
clusters:
  - name: app
    backends: [ { name: local, address: 127.0.0.1:8081 } ]
EOF
"$bin/sluice" check --config "$work/sluice.yaml" >/dev/null || fail "the node config does not validate"

# The shipped file, with what the file itself says to change on the second node.
shipped=Configs/keepalived/keepalived.conf
node_conf() {  # ns role
    local out="$work/keepalived-$2.conf"
    if [ "$2" = a ]; then
        sed -e "s/router_id sluice-a/router_id $p-a/" -e "s/192\.0\.2\./$NET./g" "$shipped" > "$out"
    else
        sed -e "s/router_id sluice-a/router_id $p-b/" -e "s/state MASTER/state BACKUP/" -e "s/priority 150/priority 100/" \
            -e "s/unicast_src_ip 192.0.2.11/unicast_src_ip 192.0.2.12/" -e "s/^\( *\)192.0.2.12$/\1192.0.2.11/" \
            -e "s/192\.0\.2\./$NET./g" "$shipped" > "$out"
    fi
    if [ "$mode" = weight ]; then sed -i -e "s/^\( *\)rise 2 .*/&\n\1weight -60/" "$out"; fi
    keepalived --config-test -f "$out" 2>&1 | grep -q . && fail "generated $out does not pass keepalived --config-test"
    echo "$out"
}
declare -A sluice_pid
start_sluice() {  # ns name
    ip netns exec "$1" "$bin/sluice" run --config "$work/sluice.yaml" >> "$work/sluice-$2.log" 2>&1 &
    sluice_pid[$2]=$!
    pids+=("$!")
    wait_for 10 ip netns exec "$1" curl -fsS -o /dev/null --max-time 1 http://127.0.0.1:9901/readyz \
        || fail "sluice on node $2 did not become ready"
}
for n in a b; do
    ns=$A; [ $n = b ] && ns=$B
    ip netns exec "$ns" "$bin/sluice-backend" --port 8081 --name "$n" > "$work/backend-$n.log" 2>&1 &
    pids+=("$!")
    wait_for 10 ip netns exec "$ns" curl -fsS -o /dev/null --max-time 1 http://127.0.0.1:8081/ || fail "backend $n did not start"
    # The shipped ARP settings for the address kept on lo (static_ipaddress in the shipped file).
    ip netns exec "$ns" sysctl -q -p Configs/keepalived/sluice-vip.sysctl.conf || fail "sysctl -p of the shipped file failed"
    start_sluice "$ns" "$n"
    conf="$(node_conf "$ns" "$n")"
    ip netns exec "$ns" keepalived -n -l -D -P -f "$conf" -p "$work/ka-$n.pid" -r "$work/ka-$n-vrrp.pid" \
        > "$work/keepalived-$n.log" 2>&1 &
    pids+=("$!")
done
wait_for 15 vip_on "$A" || fail "the virtual address never came up on the master"
vip_on "$B" && fail "the virtual address is on both nodes"

# ── The client, for the whole run ──
ip netns exec "$C" python3 Tests/Ops/pair/client.py "$VIP" 80 40 600 "$work/stop" > "$work/client.out" 2> "$work/client.log" &
pids+=("$!")
client=$!
if [ -n "${PAIR_KEEP:-}" ]; then  # diagnostics: the client's neighbour entry for the address
    while :; do echo "$(now) $(ip -n "$C" neigh show "$VIP")"; sleep 0.1; done > "$work/neigh.out" 2>&1 &
    pids+=("$!")
    if command -v tcpdump >/dev/null; then
        ip netns exec "$C" tcpdump -i eth0 -n -U -w "$work/client.pcap" > "$work/tcpdump.txt" 2>&1 &
        pids+=("$!")
    fi
fi
wait_for 10 grep -q " ok a" "$work/client.out" || fail "the client got no answer through the virtual address"

# For the requests started in [from, to] of the client's log: how many failed, and the longest
# time without an answer: between `from` and the first answer, and between two answers, by the
# time each answer arrived (a request that waited on a retransmitted SYN arrives late), and
# between the last answer and `to`.
window() {  # from to
    python3 - "$work/client.out" "$1" "$2" <<'EOF'
import sys
path, lo, hi = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
fails, ends, served = 0, [], {}
for line in open(path):
    start, end, result, what = line.split()[:4]
    start, end = float(start), float(end)
    if not lo <= start <= hi:
        continue
    if result == "ok":
        ends.append(end)
        served[what] = served.get(what, 0) + 1
    else:
        fails += 1
ends = [lo] + sorted(ends)
if ends[-1] < hi:
    ends.append(hi)
gap = max((b - a for a, b in zip(ends, ends[1:])), default=hi - lo)
print(fails, "%.2f" % gap, " ".join("%s=%d" % kv for kv in sorted(served.items())))
EOF
}

status=0
results=()
for round in $(seq 1 "$rounds"); do
    # (a) Planned: SIGTERM on the master's Sluice. /readyz is 503 at once, the check fails
    # twice, the address moves while Sluice still accepts (ready_grace), then it drains.
    t0=$(now); u0=$(now_us)
    kill -TERM "${sluice_pid[a]}"
    wait_for 10 vip_on "$B" || fail "round $round: the address did not move on SIGTERM"
    moved=$(secs $(( $(now_us) - u0 )))
    wait_for 15 gone "${sluice_pid[a]}" || fail "round $round: sluice a did not exit"
    sleep 1
    t1=$(now)
    read -r pf pgap pserved <<< "$(window "$t0" "$t1")"

    # (b) Failback: Sluice back on the master; after rise 2 it takes the address back.
    t2=$(now); u2=$(now_us)
    start_sluice "$A" a
    wait_for 15 vip_on "$A" || fail "round $round: no failback to the master"
    back=$(secs $(( $(now_us) - u2 )))
    sleep 2
    t3=$(now)
    read -r bf bgap bserved <<< "$(window "$t2" "$t3")"
    grep -q " ok a" <(awk -v t="$t3" '$1 > t - 1.5' "$work/client.out") || fail "round $round: after failback node a serves nothing"

    # (c) Crash: SIGKILL on the master's Sluice; its check fails, the backup takes over.
    t4=$(now); u4=$(now_us)
    kill -KILL "${sluice_pid[a]}"
    wait "${sluice_pid[a]}" 2>/dev/null || true
    wait_for 10 vip_on "$B" || fail "round $round: the address did not move after SIGKILL"
    cmoved=$(secs $(( $(now_us) - u4 )))
    sleep 3
    t5=$(now)
    read -r cf cgap cserved <<< "$(window "$t4" "$t5")"

    # (d) Failback after the crash.
    t6=$(now); u6=$(now_us)
    start_sluice "$A" a
    wait_for 15 vip_on "$A" || fail "round $round: no failback after the crash"
    back2=$(secs $(( $(now_us) - u6 )))
    sleep 2
    t7=$(now)
    read -r b2f b2gap b2served <<< "$(window "$t6" "$t7")"

    line="round $round ($mode): planned: moved ${moved}s, $pf failed, longest gap ${pgap}s [$pserved]; failback: ${back}s, $bf failed, longest gap ${bgap}s [$bserved]; crash: moved ${cmoved}s, longest gap ${cgap}s, $cf failed [$cserved]; failback: ${back2}s, $b2f failed, longest gap ${b2gap}s [$b2served]"
    echo "pair-netns: $line"
    results+=("$line")
    [ "$pf" = 0 ] || { echo "pair-netns: FAILED: round $round: the planned failover lost $pf requests" >&2; status=1; }
    python3 -c "import sys; sys.exit(0 if $cgap < 4 else 1)" || { echo "pair-netns: FAILED: round $round: the crash interrupted service for ${cgap}s (limit 4 s)" >&2; status=1; }
done
touch "$work/stop"
wait "$client" 2>/dev/null || true
[ $status = 0 ] || fail "see above"
echo "pair-netns: ok ($rounds round(s), mode $mode)"
