#!/usr/bin/env bash
# CI stage: prove that the README's two commands work on a brand-new Debian 12 machine.
#
# A "brand-new machine" is a debootstrap --variant=minbase bookworm root (cached as a tarball)
# entered with chroot. In it we run, verbatim, the two lines between the README markers
# `<!-- ci:readme-commands:begin` and `<!-- ci:readme-commands:end -->`:
#   root-demo  the first (install-and-demo) command as root
#   root-test  the second (test) command as root, in the same root
#   user       in a second fresh root: as user `builder` without sudo, scripts/install-deps.sh
#              must refuse with "needs root"; then the root gets `sudo` and a NOPASSWD entry
#              for builder, and the first command must install through sudo and pass.
# Runs as root, reads no stdin. Prints one timing line per stage and a summary; exits non-zero
# if any stage failed.
#
# Knobs:
#   ENGRAM_FRESH_STAGES   stages to run (default "root-demo root-test user"; "none" only
#                         prepares the cached root)
#   ENGRAM_FRESH_KEEP=1   keep the scratch dir (roots, logs) for debugging; mounts are still
#                         removed
#   ENGRAM_FRESH_SOURCE   "head" (default): `git archive HEAD`, what is committed;
#                         "worktree": tracked + untracked-not-ignored files as they are on disk
#   ENGRAM_DEBIAN_MIRROR  Debian mirror URL; default: the first bookworm main archive of this
#                         machine's own apt sources
#   ENGRAM_FRESH_TMP      where the scratch dir goes (default /var/tmp: builds need GBs of disk)
set -euo pipefail
export CI=true LC_ALL=C DEBIAN_FRONTEND=noninteractive

suite=bookworm
repo="$(git -C "$(dirname "${BASH_SOURCE[0]}")/.." rev-parse --show-toplevel)"
stages="${ENGRAM_FRESH_STAGES:-root-demo root-test user}"
cache_dir="${XDG_CACHE_HOME:-$HOME/.cache}/engram"
chroot_path=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
log() { printf '[fresh-machine %s] %s\n' "$(date +%H:%M:%S)" "$*"; }
die() { log "ERROR: $*" >&2; exit 1; }
want() { [[ " $stages " == *" $1 "* ]]; }
for st in $stages; do
  [[ " root-demo root-test user none " == *" $st "* ]] || die "unknown stage '$st' in ENGRAM_FRESH_STAGES"
done
[ "$(id -u)" -eq 0 ] || die "must run as root (debootstrap, chroot and mounts need it)"

# --- The mirror comes from this machine's apt sources, never from the repository. ----------
# Prints "<suite-uri>" for the first enabled deb entry carrying suite $1 and component main,
# from deb822 *.sources stanzas, then classic "deb [opts] URI suite comp..." lines.
host_uri() {
  local want_suite=$1 f
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    awk -v s="$want_suite" '
      function flush() { if (deb && on && suite && main && uri != "" && !done++) print uri
                         deb = 0; on = 1; suite = 0; main = 0; uri = "" }
      BEGIN { on = 1 }
      /^[[:space:]]*$/ { flush(); next }
      /^#/ { next }
      tolower($1) == "types:"      { for (i = 2; i <= NF; i++) if ($i == "deb") deb = 1 }
      tolower($1) == "enabled:"    { on = (tolower($2) != "no") }
      tolower($1) == "uris:"       { uri = $2 }
      tolower($1) == "suites:"     { for (i = 2; i <= NF; i++) if ($i == s) suite = 1 }
      tolower($1) == "components:" { for (i = 2; i <= NF; i++) if ($i == "main") main = 1 }
      END { flush() }' "$f"
  done
  { cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null || true; } |
    sed -E 's/#.*//; s/\[[^]]*\]//' |
    awk -v s="$want_suite" '$1 == "deb" && $3 == s { for (i = 4; i <= NF; i++) if ($i == "main") print $2 }'
}
mirror="${ENGRAM_DEBIAN_MIRROR:-$(host_uri "$suite" | sed -n 1p)}"
security="$(host_uri "$suite-security" | sed -n 1p)"
[ -n "$mirror" ] || die "no '$suite main' entry in /etc/apt/sources*; set ENGRAM_DEBIAN_MIRROR"
mirror="${mirror%/}"

# --- Host tools. ----------------------------------------------------------------------------
need=()
command -v debootstrap >/dev/null || need+=(debootstrap)
[ -f /usr/share/keyrings/debian-archive-keyring.gpg ] || need+=(debian-archive-keyring)
if [ ${#need[@]} -gt 0 ]; then
  log "installing on the host: ${need[*]}"
  apt-get update -q && apt-get install -y -q --no-install-recommends "${need[@]}"
fi
# debootstrap downloads with wget, which knows nothing of apt's proxy: hand it over.
eval "$(apt-config shell http_proxy Acquire::http::Proxy https_proxy Acquire::https::Proxy)"
[ -z "${http_proxy:-}" ] || export http_proxy
[ -z "${https_proxy:-}" ] || export https_proxy

# --- Scratch dir and the cleanup that always runs. ------------------------------------------
scratch="$(mktemp -d "${ENGRAM_FRESH_TMP:-/var/tmp}/engram-fresh.XXXXXX")"
chroot_pids() {  # processes whose root directory lies in the scratch dir
  local p r
  for p in /proc/[0-9]*; do
    r="$(readlink "$p/root" 2>/dev/null)" || continue
    [[ "$r" == "$scratch"/* ]] && echo "${p#/proc/}"
  done
  return 0
}
kill_chroot_procs() {
  local pids=()
  mapfile -t pids < <(chroot_pids); [ ${#pids[@]} -gt 0 ] || return 0
  log "killing processes left in the chroot: $(ps -o pid=,comm= -p "${pids[*]}" | xargs)"
  kill -TERM "${pids[@]}" 2>/dev/null || true; sleep 2
  mapfile -t pids < <(chroot_pids); [ ${#pids[@]} -eq 0 ] || kill -KILL "${pids[@]}" 2>/dev/null || true
}
scratch_mounts() { findmnt -rn -o TARGET | awk -v p="$scratch/" 'index($0, p) == 1' | sort -r; }
cleanup() {
  local rc=$? m
  trap - EXIT INT TERM
  [ "$rc" -eq 0 ] || log "exiting with status $rc; cleaning up $scratch"
  rm -f "${tarball:-}.$$.tmp"
  kill_chroot_procs
  for _ in 1 2 3; do  # deepest first; a busy mount is detached lazily
    for m in $(scratch_mounts); do umount "$m" 2>/dev/null || umount -l "$m" || true; done
  done
  if [ -n "$(scratch_mounts)" ]; then
    # Never rm -rf here: through a bind mount it would delete the host's /dev.
    log "ERROR: mounts left under $scratch:"; scratch_mounts; rc=1
  elif [ "${ENGRAM_FRESH_KEEP:-0}" = 1 ]; then
    log "kept $scratch (ENGRAM_FRESH_KEEP=1)"
  else
    rm -rf --one-file-system "$scratch"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- Stages: each body runs in a subshell with errexit, timed, its status recorded. ----------
summary=() failed=0
stage() {
  local name=$1 start=$SECONDS rc left; shift
  log "=== $name: start"
  set +e; ( set -e; "$@" ); rc=$?; set -e
  local took=$((SECONDS - start)) status=ok
  left="$(chroot_pids | xargs)"
  if [ -n "$left" ]; then  # on a real machine these would run on: worth knowing
    log "WARNING: $name left processes running: $(ps -o comm= -p "$left" | xargs)"
    kill_chroot_procs
  fi
  [ "$rc" -eq 0 ] || { status="FAILED (exit $rc)"; failed=1; }
  log "=== $name: $status in $((took / 60))m$((took % 60))s"
  summary+=("$(printf '%-12s %6ss  %s' "$name" "$took" "$status")")
}

# The repository as committed (or the worktree when asked), and the README's two commands.
source_tar="$scratch/source.tar"
rev="$(git -C "$repo" rev-parse --short HEAD)"  # once: others may commit while we run
case "${ENGRAM_FRESH_SOURCE:-head}" in
  head) git -C "$repo" archive --format=tar -o "$source_tar" "$rev" ;;
  worktree) (cd "$repo" && git ls-files -z -co --exclude-standard |
               tar --null -T - --ignore-failed-read -cf "$source_tar") ;;
  *) die "ENGRAM_FRESH_SOURCE must be head or worktree" ;;
esac
mapfile -t commands < <(tar -xOf "$source_tar" README.md | awk '
  /<!-- ci:readme-commands:begin/ { on = 1; next }
  /<!-- ci:readme-commands:end -->/ { on = 0 }
  on && NF && !/^[[:space:]]*```/')
[ ${#commands[@]} -eq 2 ] ||
  die "README.md must hold exactly 2 commands between the ci:readme-commands markers, found ${#commands[@]}"
log "demo command: ${commands[0]}"
log "test command: ${commands[1]}"

# --- The pristine root: debootstrap once, then extract the cached tarball. ------------------
mkdir -p "$cache_dir"
tarball="$cache_dir/debian-$suite-minbase-$(printf %s "$mirror" | sha256sum | cut -c1-12).tar.gz"
make_tarball() {
  local dir="$scratch/bootstrap"
  debootstrap --variant=minbase "$suite" "$dir" "$mirror"
  # Written aside and renamed: a concurrent run never extracts a half-written tarball.
  tar --numeric-owner -C "$dir" -czf "$tarball.$$.tmp" . && mv "$tarball.$$.tmp" "$tarball"
  rm -rf --one-file-system "$dir"
}
if [ -n "$(find "$tarball" -mtime -14 2>/dev/null)" ]; then
  stage cache-hit true
else
  log "debootstrap $suite from $mirror (no cached root younger than 14 days)"
  stage debootstrap make_tarball
  [ "$failed" -eq 0 ] || die "could not build the Debian root"
fi

# new_root DIR: a fresh machine in DIR, with apt configured, kernel filesystems mounted, and the
# clean repository in /work/main (plus the design docs beside it in /work/shared).
new_root() {
  local r=$1 f
  mkdir -p "$r" && tar --numeric-owner -C "$r" -xzf "$tarball"
  rm -f "$r/etc/apt/sources.list"
  {
    printf 'Types: deb\nURIs: %s\nSuites: %s %s-updates\nComponents: main\n' "$mirror" "$suite" "$suite"
    printf 'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n'
    [ -z "$security" ] || printf '\nTypes: deb\nURIs: %s\nSuites: %s-security\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' "$security" "$suite"
  } >"$r/etc/apt/sources.list.d/debian.sources"
  for f in /etc/apt/apt.conf /etc/apt/apt.conf.d/*; do  # the host's apt proxy, if any
    [ -f "$f" ] && grep -qi 'proxy' "$f" && cp "$f" "$r/etc/apt/apt.conf.d/"
  done
  cp -L /etc/resolv.conf "$r/etc/resolv.conf"
  # The host's network trust, like its DNS and apt proxy: certificate authorities added locally
  # (a TLS-inspecting egress proxy's, say) and pip's configuration, so that HTTPS to PyPI (the
  # model fetch) works in the root as on the host. The ca-certificates package, installed by the
  # README's commands, folds /usr/local/share/ca-certificates into the system bundle.
  if compgen -G '/usr/local/share/ca-certificates/*.crt' >/dev/null; then
    mkdir -p "$r/usr/local/share/ca-certificates"
    cp -L /usr/local/share/ca-certificates/*.crt "$r/usr/local/share/ca-certificates/"
  fi
  [ -f /etc/pip.conf ] && cp -L /etc/pip.conf "$r/etc/pip.conf"
  printf '127.0.0.1 localhost\n::1 localhost ip6-localhost ip6-loopback\n127.0.1.1 %s\n' \
    "$(hostname)" >"$r/etc/hosts"
  # A chroot has no init system, so a package that starts its service (redis-server does)
  # would leave a daemon running unsupervised, holding the mounts busy. Exit 101 ("forbidden
  # by policy", see README.policy-rc.d) is what Debian's Docker images ship for the same
  # reason; the tests start their own redis-server on a free port anyway.
  printf '#!/bin/sh\nexit 101\n' >"$r/usr/sbin/policy-rc.d" && chmod 755 "$r/usr/sbin/policy-rc.d"
  mount -t proc proc "$r/proc"
  mount -t sysfs -o ro,nosuid,nodev,noexec sysfs "$r/sys"
  # Private bind mounts: on a host with shared propagation (systemd), mounting on top of
  # them would otherwise also mount over the host's /dev/pts and /dev/shm.
  mount --bind /dev "$r/dev" && mount --make-private "$r/dev"
  mount --bind /dev/pts "$r/dev/pts" && mount --make-private "$r/dev/pts"
  mount -t tmpfs -o mode=1777,nosuid,nodev shm "$r/dev/shm"
  mkdir -p "$r/work/main" && tar -C "$r/work/main" -xf "$source_tar"
  [ ! -d "$repo/../shared" ] || cp -a "$repo/../shared" "$r/work/shared"
}
# in_root DIR USER COMMAND: COMMAND from /work/main, as USER, with a clean login-like environment.
in_root() {
  local r=$1 user=$2 home=/root as=()
  [ "$user" = root ] || { home="/home/$user"; as=(/usr/sbin/runuser -u "$user" --); }
  chroot "$r" "${as[@]}" /usr/bin/env -i HOME="$home" USER="$user" LOGNAME="$user" \
    PATH="$chroot_path" CI=true bash -c "cd /work/main && $3" </dev/null
}
as_admin() {  # the machine's administrator, for setting up the user stage
  chroot "$1" /usr/bin/env -i PATH="$chroot_path" DEBIAN_FRONTEND=noninteractive "${@:2}" </dev/null
}

if want root-demo || want root-test; then
  log "extracting the root for the root stages"
  new_root "$scratch/root"
  ! want root-demo || stage root-demo in_root "$scratch/root" root "${commands[0]}"
  ! want root-test || stage root-test in_root "$scratch/root" root "${commands[1]}"
fi

if want user; then
  log "extracting a second fresh root for the user stages"
  u="$scratch/user-root"
  new_root "$u"
  as_admin "$u" useradd --create-home --shell /bin/bash builder
  as_admin "$u" chown -R builder:builder /work/main
  nosudo_check() {  # without sudo, install-deps.sh must refuse and say why
    local out rc=0
    out="$(in_root "$u" builder 'bash scripts/install-deps.sh' 2>&1)" || rc=$?
    printf '%s\n' "$out"
    [ "$rc" -ne 0 ] || { log "install-deps.sh exited 0 for a user without sudo"; return 1; }
    grep -q 'needs root' <<<"$out" || { log "install-deps.sh did not say it 'needs root'"; return 1; }
  }
  stage user-nosudo nosudo_check
  grant_sudo() {
    as_admin "$u" apt-get update -q
    as_admin "$u" apt-get install -y -q --no-install-recommends sudo
    echo 'builder ALL=(ALL:ALL) NOPASSWD: ALL' >"$u/etc/sudoers.d/builder"
    chmod 0440 "$u/etc/sudoers.d/builder"
    as_admin "$u" visudo -cf /etc/sudoers.d/builder
  }
  stage user-sudo grant_sudo
  stage user-demo in_root "$u" builder "${commands[0]}"
fi

log "summary (source: ${ENGRAM_FRESH_SOURCE:-head} at $rev, mirror: $mirror)"
printf '  %s\n' "${summary[@]}"
[ "$failed" -eq 0 ] || die "at least one stage failed"
log "all stages passed"
