# shellcheck shell=bash
# Fact, for --diff: per path of CEP_PATHS "P|index|type|mode|owner|group|hash" (or
# "P|index|absent"), and "C|index|<base64 content>" for regular files whose hash differs from the
# one at the same index of CEP_WANT (empty: not compared). Parsed by src/facts/files.ts.
cep_path_fact() {
  local i=$1 p=$2 want=$3 s h=-
  if [ ! -e "$p" ]; then printf "P|%s|absent\n" "$i"; return; fi
  s=$(stat -L -c "%F|%a|%U|%G" -- "$p")
  if [ -f "$p" ]; then h=$(sha256sum < "$p"); h=${h%% *}; fi
  printf "P|%s|%s|%s\n" "$i" "$s" "$h"
  if [ "$h" != - ] && [ -n "$want" ] && [ "$h" != "$want" ]; then printf "C|%s|" "$i"; base64 -w0 < "$p"; echo; fi
}
for cep_i in "${!CEP_PATHS[@]}"; do cep_path_fact "$cep_i" "${CEP_PATHS[$cep_i]}" "${CEP_WANT[$cep_i]}"; done
