# shellcheck shell=bash
# Fact: type, mode, owner, group and content hash of every path in CEP_PATHS, with two programs
# for any number of paths (a loop per path costs two forks a path on every host of every run).
# -L: a managed path may be a symlink on purpose (/var/run -> /run, a backup dir on another disk).
# Lines: "S|name|type|mode|owner|group", then "hash  name" for regular files (escaped with a
# leading backslash when the name needs it). Paths hold no control characters (the inventory
# schema's rule), so one line is one record. Parsed by src/facts/files.ts.
cep_f=()
for cep_x in "${CEP_PATHS[@]}"; do if [ -f "$cep_x" ]; then cep_f+=("$cep_x"); fi; done
if [ "${#CEP_PATHS[@]}" -gt 0 ]; then stat -L -c 'S|%n|%F|%a|%U|%G' -- "${CEP_PATHS[@]}" 2>/dev/null || true; fi
if [ "${#cep_f[@]}" -gt 0 ]; then sha256sum -- "${cep_f[@]}"; fi
