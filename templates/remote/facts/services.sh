# shellcheck shell=bash
# Fact: whether each daemon in CEP_SERVICES runs, by its process name (SVC|name|running or
# stopped). Parsed by src/facts/services.ts.
for cep_s in "${CEP_SERVICES[@]}"; do
  if pgrep -x "$cep_s" >/dev/null 2>&1; then echo "SVC|$cep_s|running"; else echo "SVC|$cep_s|stopped"; fi
done
