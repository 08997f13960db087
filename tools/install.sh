#!/usr/bin/env bash
# Installs everything seedkit needs on a fresh Debian 12 / Python 3.11 machine, idempotently:
#   - ffmpeg, sox, libsox-fmt-all, espeak-ng (apt) when absent;
#   - a virtual environment at <repo>/.venv with the pinned Python packages and seedkit itself
#     (console scripts seedkit-* in .venv/bin).
# A second run checks a stamp file and returns in well under a second. The stamp holds a hash of
# requirements.txt, setup.py and the list of bin scripts: changing any of them reinstalls (quick
# when the packages are already there).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv=$root/.venv
stamp=$venv/.seedkit-installed
req=$root/requirements.txt
apt_packages=(ffmpeg sox libsox-fmt-all espeak-ng)

log() { echo "[install] $*" >&2; }

# A package counts as present when dpkg says so (or, without dpkg, when its command exists).
missing=()
for pkg in "${apt_packages[@]}"; do
  if command -v dpkg-query >/dev/null 2>&1; then
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing+=("$pkg")
  elif [ "$pkg" != libsox-fmt-all ]; then
    command -v "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  fi
done
if [ ${#missing[@]} -gt 0 ]; then
  log "installing system packages (missing: ${missing[*]})"
  if [ "$(id -u)" -ne 0 ]; then
    echo "ERROR (install.sh): ${missing[*]} missing and not root; run:" \
      "sudo apt-get install -y ${apt_packages[*]}" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${apt_packages[@]}" >/dev/null
fi

want=$( (cat "$req" "$root/setup.py"; ls "$root"/seedkit/bin/*.py) | sha256sum | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -x "$venv/bin/python" ]; then
  exit 0
fi

# pip, quietly: on success only real warnings are shown; on failure everything is. Dropped as
# noise: this machine's pip config names index folders that may not exist ("WARNING: Location
# ... is ignored") and setuptools' banner about editable installs.
pip_quiet() {
  local out status=0
  out=$("$venv/bin/python" -m pip "$@" 2>&1) || status=$?
  out=$(printf '%s\n' "$out" | grep -v "^WARNING: Location '.*' is ignored" || true)
  if [ $status -ne 0 ]; then
    printf '%s\n' "$out" >&2
    echo "ERROR (install.sh): pip $* failed (status $status); see the output above" >&2
    exit $status
  fi
  printf '%s\n' "$out" | grep -E "^(WARNING|ERROR)" >&2 || true
}

if [ ! -x "$venv/bin/python" ]; then
  log "creating $venv"
  python3 -m venv "$venv"
fi
log "installing or updating Python packages in $venv (a fresh venv: a few minutes)"
pip_quiet install -q --upgrade pip
pip_quiet install -q -r "$req"
# resemblyzer only for its GE2E weight file (pretrained.pt); its dependencies are not needed.
pip_quiet install -q --no-deps resemblyzer==0.1.4
pip_quiet install -q --no-deps -e "$root"
echo "$want" > "$stamp"
log "done"
