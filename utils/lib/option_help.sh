# Sourced by the recipes (before utils/parse_options.sh): option_help SCRIPT prints SCRIPT's options
# for --help from their one source, the "name=value  # comment" lines above the line that sources
# parse_options.sh: "  --name-with-dashes DEFAULT   comment". A comment line right below an option
# ("   # more text", indented) continues its comment.
option_help() {
  echo "Options (--name value; the default follows each; conf files document their own keys):"
  awk '/^[[:space:]]*(\.|source)[[:space:]].*parse_options\.sh/ { exit }
       /^[a-z_][a-z0-9_]*=/ && !/^help_message=/ {
         name = $0; sub(/=.*/, "", name); gsub(/_/, "-", name)
         value = $0; sub(/^[^=]*=/, "", value); sub(/[[:space:]]+#.*/, "", value)
         if (value == "") value = "\"\""
         text = $0; if (!sub(/^[^#]*#[[:space:]]*/, "", text)) text = ""
         printf "  --%-22s %s\n", name " " value, text; cont = 1; next }
       cont && /^[[:space:]]+#/ { t = $0; sub(/^[[:space:]]+#[[:space:]]*/, "", t)
                                  printf "  %-24s %s\n", "", t; next }
       { cont = 0 }' "$1"
  echo "  --config FILE            read 'name=value' option lines from FILE first; the command line wins"
}
