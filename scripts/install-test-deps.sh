#!/usr/bin/env bash
# Installs what the tests need beyond cargo, only when it is missing.
# Idempotent; runs as root on Debian (apt-get), with npm and pip available.
set -euo pipefail
cd "$(dirname "$0")/.."

# --- chromium (tests/browser.rs) --------------------------------------------
# Headless Chromium and its WebDriver, from Debian's packages.
install_chromium() {
    if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then
        return 0
    fi
    echo "== installing chromium and chromium-driver"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update
    apt-get install -y chromium chromium-driver
}
install_chromium
# --- end chromium ------------------------------------------------------------
