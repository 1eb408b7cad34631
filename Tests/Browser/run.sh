#!/usr/bin/env bash
# The dashboard's browser test (Tests/Browser/dashboard_test.py) against the built binaries.
# Installs nothing: .ci/run brings Debian's chromium and Playwright from PyPI.
# Usage: Tests/Browser/run.sh [BUILD_DIR]   (default .build/debug)
# The screenshot goes to $SCREENSHOT (default .build/browser/dashboard-failover.png; to
# refresh the one in the docs: SCREENSHOT=docs/images/dashboard-failover.png).
set -euo pipefail
cd "$(dirname "$0")/../.."
bin="${1:-.build/debug}"

if ! python3 -c 'import playwright' 2>/dev/null; then
    echo "browser test: the Python package playwright is missing (pip install playwright)" >&2
    exit 1
fi
if [ ! -x /usr/bin/chromium ]; then
    echo "browser test: /usr/bin/chromium is missing (apt-get install chromium)" >&2
    exit 1
fi
for b in sluice sluice-backend; do
    if [ ! -x "$bin/$b" ]; then
        echo "browser test: $bin/$b is not built (swift build --product $b)" >&2
        exit 1
    fi
done
exec python3 Tests/Browser/dashboard_test.py --sluice "$bin/sluice" --backend "$bin/sluice-backend" \
    --chromium /usr/bin/chromium --screenshot "${SCREENSHOT:-.build/browser/dashboard-failover.png}"
