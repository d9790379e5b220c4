#!/usr/bin/env bash
# Install Debian's headless-capable Chromium when it is missing (used by tests/views browser checks).
# Idempotent and quiet when chromium is already there. Needs root (CI and dev machines run as root).
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" != "0" ]; then
  echo "ensure-chromium: chromium missing and not root; install it with: apt-get install -y chromium" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
command -v chromium >/dev/null 2>&1
echo "ensure-chromium: installed $(chromium --version 2>/dev/null || echo chromium)"
