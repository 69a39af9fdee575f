#!/usr/bin/env bash
# Installs what the tests need beyond cargo, only when it is missing.
# Idempotent; runs as root on Debian (apt-get), with npm and pip available.
set -euo pipefail
cd "$(dirname "$0")/.."
