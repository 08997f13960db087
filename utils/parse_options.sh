# utils/parse_options.sh: Kaldi-style command-line options for shell scripts (sourced, not run).
#
# A script sets its defaults, then sources this file; every "--name value" before the first
# positional argument sets the variable of that name, with dashes read as underscores:
#
#   stage=0
#   stop_stage=100
#   nj=4
#   use_gpu=false
#   help_message="Usage: $0 [options] <data-dir>"   # optional: printed by --help
#   . utils/parse_options.sh || exit 1
#   # "$@" now holds the positional arguments
#
#   ./run.sh --stage 3 --stop-stage 5 data/train   (--stop_stage and --stop-stage=5 work too)
#
# Rules:
#   - only variables the script defined before sourcing are options; others are rejected;
#   - a variable whose default is true or false only accepts true or false;
#   - "--" ends the options; "--help" (or -h) prints $help_message (or, without one, the script's
#     leading comment) and the options with their current values, then exits 0;
#   - "--config FILE" sources FILE (lines "name=value") before the other options are applied, so
#     the command line wins over the file; if the script itself defines a variable "config",
#     --config is an ordinary option that sets it instead.

__po_script=${BASH_SOURCE[1]:-$0}
__po_prog=$(basename "$__po_script")

# The option variables: top-level "name=value" lines of the script above the line that sources
# this file (what --help lists and what an unknown-option message suggests).
__po_variables() {
  local line name seen=" "
  [ -f "$__po_script" ] || return 0
  while IFS= read -r line; do
    [[ $line =~ ^[[:space:]]*(\.|source)[[:space:]].*parse_options\.sh ]] && break
    if [[ $line =~ ^[[:space:]]*([A-Za-z_][A-Za-z0-9_]*)= ]]; then
      name=${BASH_REMATCH[1]}
      [ "$name" = help_message ] && continue
      [[ $seen == *" $name "* ]] && continue
      seen+="$name "
      echo "$name"
    fi
  done < "$__po_script"
}

__po_print_help() {
  local __po_v  # not "name": that would hide a script variable of the same name
  if [ -n "${help_message:-}" ]; then
    printf '%s\n' "$help_message"
  else
    sed -n '2,/^[^#]/{/^#/s/^# \{0,1\}//p}' "$__po_script" 2>/dev/null
  fi
  echo
  echo "Options (current values; --name-with-dashes or --name_with_underscores):"
  for __po_v in $(__po_variables); do
    [ -n "${!__po_v+x}" ] || continue
    printf '  --%-24s %s\n' "${__po_v//_/-}" "${!__po_v}"
  done
}

__po_fail() {
  echo "ERROR ($__po_prog): $*" >&2
  exit 1
}

# --config first, so options given on the command line override the file whatever their order.
if [ -z "${config+x}" ]; then
  __po_args=("$@")
  for ((__po_i = 0; __po_i < ${#__po_args[@]}; __po_i++)); do
    __po_a=${__po_args[__po_i]}
    [ "$__po_a" = "--" ] && break
    case $__po_a in
      --config=*) __po_file=${__po_a#--config=} ;;
      --config) __po_file=${__po_args[__po_i + 1]:-} ;;
      *) continue ;;
    esac
    [ -n "$__po_file" ] || __po_fail "--config needs a file"
    [ -f "$__po_file" ] || __po_fail "$__po_file:0: config file not found (given with --config)"
    # shellcheck disable=SC1090
    . "$__po_file" || __po_fail "$__po_file:0: could not source the config file"
  done
  unset __po_args __po_i __po_a __po_file
  __po_config_is_file=true
else
  __po_config_is_file=false
fi

while [ $# -gt 0 ]; do
  case $1 in
    --help|-h)
      __po_print_help
      exit 0 ;;
    --) shift; break ;;
    --*=*) __po_opt=${1%%=*}; __po_val=${1#*=}; __po_n=1 ;;
    --*)
      __po_opt=$1
      [ $# -ge 2 ] || __po_fail "option $1 needs a value"
      __po_val=$2; __po_n=2 ;;
    *) break ;;
  esac
  __po_name=${__po_opt#--}
  __po_name=${__po_name//-/_}
  if [ "$__po_name" = config ] && $__po_config_is_file; then
    shift $__po_n
    continue
  fi
  if ! [[ $__po_name =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || [ -z "${!__po_name+x}" ] \
      || [ "$__po_name" = help_message ]; then
    __po_known=$(__po_variables | sed 's/_/-/g; s/^/--/' | tr '\n' ' ')
    __po_fail "invalid option $__po_opt${__po_known:+; known options: $__po_known}(see --help)"
  fi
  __po_old=${!__po_name}
  if [ "$__po_old" = true ] || [ "$__po_old" = false ]; then
    if [ "$__po_val" != true ] && [ "$__po_val" != false ]; then
      __po_fail "option $__po_opt expects true or false, got '$__po_val'"
    fi
  fi
  printf -v "$__po_name" '%s' "$__po_val"
  shift $__po_n
done

# An empty --cmd is almost always a scripting error (an unset variable in cmd.sh).
if [ -n "${cmd+x}" ] && [ -z "$cmd" ]; then
  __po_fail "empty value for --cmd (is train_cmd set in cmd.sh?)"
fi

unset __po_opt __po_val __po_n __po_name __po_old __po_known __po_config_is_file
unset -f __po_variables __po_print_help __po_fail
unset __po_script __po_prog
true
