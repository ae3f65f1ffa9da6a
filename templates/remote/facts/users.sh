# shellcheck shell=bash
# Fact: whether each user in CEP_USERS exists (USER|name|yes or no). Parsed by src/facts/users.ts.
for cep_u in "${CEP_USERS[@]}"; do
  if getent passwd "$cep_u" >/dev/null; then echo "USER|$cep_u|yes"; else echo "USER|$cep_u|no"; fi
done
