#!/usr/bin/env bash
# Installs everything seedkit needs on a fresh Debian 12 / Python 3.11 machine, idempotently:
#   - ffmpeg, sox, libsox-fmt-all, espeak-ng (apt) when absent;
#   - slurm-wlm and munge (apt) when absent, for the tests that run a one-node Slurm cluster
#     (tests/foundation/test_slurm_real.py); where they cannot be installed (not root, no apt-get, apt-get
#     fails) the install goes on with a warning, and those tests fail naming what is missing;
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
slurm_packages=(slurm-wlm munge)

log() { echo "[install] $*" >&2; }

# A package counts as present when dpkg says so (or, without dpkg, when its command exists).
declare -A command_of=([slurm-wlm]=slurmctld [munge]=munged [libsox-fmt-all]=)
missing_of() {
  local pkg cmd
  for pkg in "$@"; do
    if command -v dpkg-query >/dev/null 2>&1; then
      dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || echo "$pkg"
    else
      cmd=${command_of[$pkg]-$pkg}
      [ -z "$cmd" ] || PATH=$PATH:/usr/sbin command -v "$cmd" >/dev/null 2>&1 || echo "$pkg"
    fi
  done
}
apt_updated=false
apt_install() {
  export DEBIAN_FRONTEND=noninteractive
  $apt_updated || apt-get update -qq || return 1
  apt_updated=true
  apt-get install -y -qq "$@" >/dev/null
}

mapfile -t missing < <(missing_of "${apt_packages[@]}")
if [ ${#missing[@]} -gt 0 ]; then
  log "installing system packages (missing: ${missing[*]})"
  if [ "$(id -u)" -ne 0 ]; then
    echo "ERROR (install.sh): ${missing[*]} missing and not root; run:" \
      "sudo apt-get install -y ${apt_packages[*]}" >&2
    exit 1
  fi
  apt_install "${apt_packages[@]}"
fi

# Slurm for the real-Slurm tests: wanted, not required (see the top of this file).
mapfile -t missing < <(missing_of "${slurm_packages[@]}")
if [ ${#missing[@]} -gt 0 ]; then
  why=
  if [ "$(id -u)" -ne 0 ]; then
    why="not root"
  elif ! command -v apt-get >/dev/null 2>&1; then
    why="no apt-get"
  else
    log "installing ${missing[*]} (a one-node Slurm cluster for tests/foundation/test_slurm_real.py)"
    apt_install "${slurm_packages[@]}" || why="apt-get install failed"
  fi
  if [ -n "$why" ]; then
    log "WARNING: ${missing[*]} not installed ($why); tests/foundation/test_slurm_real.py will fail" \
      "until 'apt-get install -y ${slurm_packages[*]}' is run as root"
  fi
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
