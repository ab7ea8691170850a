#!/usr/bin/env bash
# Installs the system packages a fresh machine lacks: Chromium for the browser tests,
# espeak-ng for the speech tests and benchmark (synthesised speech), iproute2 (ip, tc) for
# the impaired-link test's network namespace, redis-server for the nodes that share one.
# Safe to run again; does nothing when everything is present.
set -euo pipefail
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v node >/dev/null 2>&1 || need+=(nodejs)
command -v npm >/dev/null 2>&1 || need+=(npm)
command -v espeak-ng >/dev/null 2>&1 || need+=(espeak-ng)
command -v tc >/dev/null 2>&1 || need+=(iproute2)
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "meetbox: please install: ${need[*]} (needs apt-get as root)" >&2
  exit 1
fi
echo "meetbox: installing system packages: ${need[*]}"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
