# Sourced by the recipes after parse_options.sh: range checks of numeric options, each failure the
# seedkit one-line error "ERROR (<prog>): <prog>:0: <what is wrong>" and exit status 1.

# (utils/lib/recipe.sh's die, sourced here for scripts that have not sourced it)
declare -F die >/dev/null || . "$(dirname "${BASH_SOURCE[0]}")/recipe.sh"
_opt_die() { die "$(basename "$0")" "$@"; }

# check_bools NAME...: each option variable NAME is true or false.
check_bools() {
  local name
  for name in "$@"; do
    case ${!name} in true|false) ;;
      *) _opt_die "--${name//_/-} must be true or false, got '${!name}'" ;; esac
  done
}

# check_stages FIRST LAST: --stage and --stop-stage are integers in FIRST..LAST, stage <= stop.
check_stages() {
  local first=$1 last=$2 name value
  for name in stage stop_stage; do
    value=${!name}
    [[ $value =~ ^-?[0-9]+$ ]] || \
      _opt_die "--${name//_/-} must be an integer stage number in $first..$last, got '$value'"
    { [ "$value" -ge "$first" ] && [ "$value" -le "$last" ]; } || \
      _opt_die "--${name//_/-} $value is outside this recipe's stages $first..$last"
  done
  [ "$stage" -le "$stop_stage" ] || \
    _opt_die "--stage $stage is after --stop-stage $stop_stage: nothing would run"
}

# check_int NAME MIN [MAX]: the option variable NAME is an integer in MIN..MAX.
check_int() {
  local name=$1 min=$2 max=${3:-} value=${!1}
  [[ $value =~ ^-?[0-9]+$ ]] || _opt_die "--${name//_/-} must be an integer, got '$value'"
  [ "${#value}" -le 9 ] || _opt_die "--${name//_/-} $value is out of range"
  [ "$value" -ge "$min" ] || _opt_die "--${name//_/-} must be >= $min, got $value"
  [ -z "$max" ] || [ "$value" -le "$max" ] || _opt_die "--${name//_/-} must be <= $max, got $value"
}

# check_number NAME: the option variable NAME is a positive decimal number (e.g. 2.015).
check_number() {
  local name=$1 value=${!1}
  [[ $value =~ ^([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?$ ]] && \
    awk -v v="$value" 'BEGIN { exit !(v > 0 && v < 1e6) }' || \
    _opt_die "--${name//_/-} must be a positive number, got '$value'"
}

# check_probs NAME: a comma-separated list of numbers strictly between 0 and 1 (minDCF priors).
check_probs() {
  local name=$1 value=${!1} p
  [ -n "$value" ] || _opt_die "--${name//_/-} is empty; give e.g. 0.01,0.05"
  for p in ${value//,/ }; do
    [[ $p =~ ^(0?\.[0-9]+|[0-9]+\.?[0-9]*([eE][-+]?[0-9]+)?)$ ]] && \
      awk -v v="$p" 'BEGIN { exit !(v > 0 && v < 1) }' || \
      _opt_die "--${name//_/-} needs numbers strictly between 0 and 1, got '$p'"
  done
}

# check_seed_conf FILE: every key and value of a SEED conf as seedkit-train-seed checks them, now
# rather than at the training stage; its one ERROR line names the file and line.
check_seed_conf() {
  python3 -c 'import sys
from seedkit.errors import run_main
from seedkit.seed.config import merge_config, read_config_file
sys.exit(run_main(lambda a: merge_config(read_config_file(a[0])) and 0,
                  sys.argv[1], sys.argv[2:]))' "$(basename "$0")" "$1" || exit 1
}
