#!/usr/bin/env bash
# Installs engram's build and test dependencies from Debian 12 packages.
# Works as root (no sudo needed) or as a user with sudo. Skips apt when all are present.
set -euo pipefail

packages=(
  build-essential cmake pkg-config git
  libsqlite3-dev libhiredis-dev libsimdjson-dev libxxhash-dev libutf8proc-dev libhnswlib-dev
  libgtest-dev libbenchmark-dev redis-server
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "engram: all dependencies are installed"
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "engram: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  sudo="sudo"
fi
echo "engram: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q
$sudo -E apt-get install -y -q --no-install-recommends "${missing[@]}"
