#!/usr/bin/env bash
# Installs what bench/run.sh needs beyond cargo, only when it is missing:
# Debian's nginx, Apache with mod_auth_openidc, wrk (with its LuaJIT), h2load
# (HTTP/2 rows), openssl (s_time for resumed TLS handshakes), and
# python3 for the scripted sign-in. Idempotent; runs as root on Debian.
set -euo pipefail

need=()
[ -x /usr/sbin/nginx ] || need+=(nginx)
[ -x /usr/sbin/apache2 ] || need+=(apache2)
[ -e /usr/lib/apache2/modules/mod_auth_openidc.so ] || need+=(libapache2-mod-auth-openidc)
command -v wrk >/dev/null 2>&1 || need+=(wrk)
command -v h2load >/dev/null 2>&1 || need+=(nghttp2-client)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v python3 >/dev/null 2>&1 || need+=(python3)
command -v curl >/dev/null 2>&1 || need+=(curl)

if [ "${#need[@]}" -eq 0 ]; then
    exit 0
fi
echo "== installing ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update
# Packages only: the services are started by bench/run.sh on free loopback
# ports, never by the system (policy-rc.d keeps apt from starting them).
policy=/usr/sbin/policy-rc.d
made_policy=0
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod +x "$policy"
    made_policy=1
fi
status=0
apt-get install -y --no-install-recommends "${need[@]}" || status=$?
[ "$made_policy" = 1 ] && rm -f "$policy"
exit "$status"
