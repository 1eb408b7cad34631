#!/usr/bin/env bash
# Builds the tests and the `sluice` binary they start with a sanitizer, runs the tests, and
# fails on any sanitizer report, whichever process wrote it (the test process or a `sluice`
# child: every report goes to a file, not only to a stderr that a test may not read).
#
#   Tests/sanitize.sh address [FILTER [SKIP]]   # AddressSanitizer, scratch path .build-asan
#   Tests/sanitize.sh thread FILTER [SKIP]      # ThreadSanitizer, scratch path .build-tsan
#
# FILTER and SKIP are `swift test --filter/--skip` patterns ("" for none).
set -euo pipefail

kind="${1:?usage: Tests/sanitize.sh address|thread [FILTER [SKIP]]}"
filter="${2:-}"
skip="${3:-}"
cd "$(dirname "$0")/.."
case "$kind" in
    address) scratch=.build-asan ;;
    thread) scratch=.build-tsan ;;
    *) echo "sanitize: unknown sanitizer $kind" >&2; exit 2 ;;
esac

start=$SECONDS
swift build --build-tests -Xswiftc -sanitize="$kind" --scratch-path "$scratch"
built=$SECONDS

reports="$(mktemp -d)"
trap 'rm -rf "$reports"' EXIT
# No leak check: at exit LeakSanitizer reports XCTest's, Foundation's and dispatch's own
# allocations in the test process, and in `sluice` the worker objects still alive when
# exit() runs (their reference cycles are never torn down); either makes the exit status 1.
export ASAN_OPTIONS="log_path=$reports/asan:detect_leaks=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export TSAN_OPTIONS="log_path=$reports/tsan${TSAN_OPTIONS:+:$TSAN_OPTIONS}"
export SWIFT_BACKTRACE=enable=no

status=0
swift test --skip-build -Xswiftc -sanitize="$kind" --scratch-path "$scratch" ${filter:+--filter "$filter"} \
    ${skip:+--skip "$skip"} || status=$?

found=("$reports"/*)
if [ -e "${found[0]}" ]; then
    echo "sanitize: ${#found[@]} $kind sanitizer report(s):"
    for f in "${found[@]}"; do
        echo "---- $(basename "$f")"
        head -n 60 "$f"
    done
    status=1
fi
echo "sanitize: $kind: build $((built - start))s, tests $((SECONDS - built))s, exit $status"
exit "$status"
