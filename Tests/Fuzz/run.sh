#!/usr/bin/env bash
# Builds the libFuzzer targets (release, -sanitize=fuzzer,address) and runs each for SECONDS on
# a temporary copy of its seed corpus, one after the other. Fails if any target crashes, trips
# an invariant, leaks, times out or runs out of memory; the input is kept under
# .build-fuzz/artifacts/. Prints executions per second per target.
#
#   Tests/Fuzz/run.sh 60                    # every target, 60 s each
#   Tests/Fuzz/run.sh 300 FuzzConfigLoader  # one target
set -euo pipefail

seconds="${1:?usage: Tests/Fuzz/run.sh SECONDS [TARGET...]}"
shift
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
scratch="$root/.build-fuzz"
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(FuzzRequestHead FuzzResponseHead FuzzChunkedDecoder FuzzConfigLoader FuzzDNSMessage)

swift build --package-path "$here" -c release --scratch-path "$scratch" -Xswiftc -sanitize=fuzzer,address
bin="$scratch/release"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
artifacts="$scratch/artifacts"
mkdir -p "$artifacts"
# libFuzzer's handler reports a trap; the Swift backtracer would get there first and can hang.
export SWIFT_BACKTRACE=enable=no

failed=()
summary=()
for t in "${targets[@]}"; do
    cp -R "$here/Corpus/$t" "$work/$t"
    log="$work/$t.log"
    echo "fuzz: $t for ${seconds}s"
    status=0
    "$bin/$t" "$work/$t" -max_total_time="$seconds" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048 \
        -artifact_prefix="$artifacts/$t-" >"$log" 2>&1 || status=$?
    stat() { awk -v k="stat::$1:" '$1 == k { print $2 }' "$log"; }
    runs="$(stat number_of_executed_units)"
    rate="$(stat average_exec_per_sec)"
    added="$(stat new_units_added)"
    rss="$(stat peak_rss_mb)"
    if [ "$status" -ne 0 ]; then
        failed+=("$t")
        echo "fuzz: $t FAILED (exit $status); the last lines of its log:"
        grep -v '^#[0-9]' "$log" | tail -n 40
        ls "$artifacts/$t-"* 2>/dev/null | sed 's/^/fuzz: input kept as /' || true
    fi
    summary+=("$(printf '%-20s %10s execs %8s exec/s %6s new units %6s MB peak %s' "$t" "${runs:-?}" "${rate:-?}" \
        "${added:-?}" "${rss:-?}" "$([ "$status" -eq 0 ] && echo ok || echo FAILED)")")
done

echo "fuzz: summary (${seconds}s per target)"
printf '  %s\n' "${summary[@]}"
if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzz: ${#failed[@]} target(s) failed: ${failed[*]}"
    exit 1
fi
