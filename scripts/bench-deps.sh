#!/usr/bin/env bash
# What `make bench` needs beyond the test set-up: Janus (Debian's package), the C SFU the
# benchmark measures meetbox beside. Safe to run again; does nothing when it is present.
set -euo pipefail
command -v janus >/dev/null 2>&1 && exit 0
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "meetbox: please install janus (needs apt-get as root) for make bench" >&2
  exit 1
fi
echo "meetbox: installing janus for the benchmark"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends janus >/dev/null
