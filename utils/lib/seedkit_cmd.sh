# Sourced by the utils/*.sh wrappers: seedkit_cmd <console-script> [args...] runs a seedkit
# console script, taken from PATH (path.sh puts the venv there) or else from the .venv of the
# checkout these utils belong to (symlinks resolved).
seedkit_cmd() {
  local name=$1
  shift
  if ! command -v "$name" >/dev/null 2>&1; then
    local venv_bin
    venv_bin=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../.." && pwd)/.venv/bin
    if [ -x "$venv_bin/$name" ]; then
      name=$venv_bin/$name
    else
      echo "ERROR ($(basename "$0")): $name not found on PATH or in $venv_bin; run" \
        "'bash tools/install.sh' (or source the recipe's path.sh)" >&2
      exit 1
    fi
  fi
  exec "$name" "$@"
}
