#!/usr/bin/env bash
# Installs everything seedkit needs on a fresh Debian 12 / Python 3.11 machine, idempotently:
#   - ffmpeg, sox, libsox-fmt-all, espeak-ng (apt) when absent;
#   - a virtual environment at <repo>/.venv with the pinned Python packages and seedkit itself.
# A second run checks a stamp file and returns in seconds.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv=$root/.venv
stamp=$venv/.seedkit-installed
req=$root/requirements.txt

log() { echo "[install] $*" >&2; }

missing=()
for tool in ffmpeg sox espeak-ng; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if [ ${#missing[@]} -gt 0 ]; then
  log "installing system packages (missing: ${missing[*]})"
  if [ "$(id -u)" -ne 0 ]; then
    echo "ERROR (install.sh): $req:1: ${missing[*]} missing and not root; run: sudo apt-get install -y ffmpeg sox libsox-fmt-all espeak-ng" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq ffmpeg sox libsox-fmt-all espeak-ng >/dev/null
fi

# The stamp records the hash of requirements.txt, setup.py and the list of bin scripts (each is a
# console script): changing any of them reinstalls (quick when the packages are already there).
want=$( (cat "$req" "$root/setup.py"; ls "$root"/seedkit/bin/*.py) | sha256sum | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -x "$venv/bin/python" ]; then
  exit 0
fi

if [ ! -x "$venv/bin/python" ]; then
  log "creating $venv"
  python3 -m venv "$venv"
fi
log "installing Python packages into $venv (first time: a few minutes)"
"$venv/bin/python" -m pip install -q --upgrade pip
"$venv/bin/python" -m pip install -q -r "$req"
# resemblyzer only for its GE2E weight file (pretrained.pt); its dependencies are not needed.
"$venv/bin/python" -m pip install -q --no-deps resemblyzer==0.1.4
"$venv/bin/python" -m pip install -q --no-deps -e "$root"
echo "$want" > "$stamp"
log "done"
