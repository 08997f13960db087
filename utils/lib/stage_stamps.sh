# Shared by the recipes' local/lib.sh (sourced, not executed): the stamps that tell whether a piece
# of work is already done for the current inputs, so a re-run skips it and a changed input redoes
# it. A stamp is a file holding one key: the sha256 of what the work depends on (its options, and
# the stamps of the work it reads, so redoing an earlier step invalidates everything after it).
# Each recipe wraps these in its own names (mini: signature/up_to_date/mark_done with a stamp
# file; voxceleb: key_of/done_with/mark_done with <dir>/.done).

# stamp_key TAG ARG...: one sha256 over the arguments. An argument that names a regular file adds
# its path and content ("file PATH SHA256"); any other argument adds its text ("TAG TEXT"). TAG is
# part of the key, so a recipe keeps its own to keep its existing stamps valid.
stamp_key() {
  local tag=$1 a
  shift
  for a in "$@"; do
    if [ -f "$a" ]; then
      printf 'file %s %s\n' "$a" "$(sha256sum < "$a" | cut -d' ' -f1)"
    else
      printf '%s %s\n' "$tag" "$a"
    fi
  done | sha256sum | cut -d' ' -f1
}

# stamp_matches STAMP KEY [OUTPUT...]: true when the file STAMP holds KEY and every OUTPUT exists.
stamp_matches() {
  local stamp=$1 key=$2 out
  shift 2
  [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$key" ] || return 1
  for out in "$@"; do
    [ -e "$out" ] || return 1
  done
}

# stamp_write STAMP KEY: record (atomically: STAMP.tmp, then rename) that the work is complete for
# KEY; creates STAMP's directory.
stamp_write() {
  mkdir -p "$(dirname "$1")"
  printf '%s\n' "$2" > "$1.tmp"
  mv "$1.tmp" "$1"
}
