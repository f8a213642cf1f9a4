#!/usr/bin/env bash
# Runs before `npm test` (npm's pretest): the suite starts real redis-server processes and a real
# headless Chromium, so a fresh machine gets them here instead of failing ten test files later.
set -euo pipefail

missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v redis-cli >/dev/null 2>&1 || missing+=(redis-tools)
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v python3 >/dev/null 2>&1 || missing+=(python3)
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "test setup: installing ${missing[*]} with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq "${missing[@]}" >/dev/null
  echo "test setup: installed ${missing[*]}"
else
  echo "test setup: the suite needs ${missing[*]}; install them (Debian/Ubuntu: sudo apt-get install -y ${missing[*]}) and run npm test again" >&2
  exit 1
fi
