#!/usr/bin/env bash
# Installs engram's build and test dependencies from Debian 12 packages.
#
# Runs as root (apt directly) or as a user with sudo (apt through sudo; sudo may ask for a
# password on a terminal). Skips apt entirely when every package is already installed, so it
# needs neither root nor a network then. Never prompts apt: the install is non-interactive.
set -euo pipefail

packages=(
  build-essential cmake pkg-config git ca-certificates python3 python3-pip
  libsqlite3-dev libhiredis-dev libsimdjson-dev libxxhash-dev libutf8proc-dev libhnswlib-dev
  libopenblas-dev libssl-dev libcurl4-openssl-dev libcpp-httplib-dev libcli11-dev
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

# as_root runs a command as root: directly when we are root, else through sudo. `env` carries
# the variables apt needs even where sudoers resets the environment (sudo -E may be refused).
apt_env=(DEBIAN_FRONTEND=noninteractive APT_LISTCHANGES_FRONTEND=none)
if [ "$(id -u)" -eq 0 ]; then
  as_root() { env "${apt_env[@]}" "$@"; }
else
  if ! command -v sudo >/dev/null 2>&1; then
    echo "engram: these Debian packages are missing: ${missing[*]}" >&2
    echo "engram: installing them needs root, and sudo is not installed." >&2
    echo "engram: run this script as root, or ask an administrator to run:" >&2
    echo "  apt-get install --no-install-recommends ${missing[*]}" >&2
    exit 1
  fi
  as_root() {
    if ! sudo env "${apt_env[@]}" "$@"; then
      echo "engram: '$*' failed through sudo (is $(id -un) allowed to use sudo?)." >&2
      echo "engram: missing packages: ${missing[*]}" >&2
      return 1
    fi
  }
fi

echo "engram: installing ${missing[*]}"
as_root apt-get update -q
as_root apt-get install -y -q --no-install-recommends \
  -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "${missing[@]}"
