# shellcheck shell=bash
# Fact: whether this is a Debian-like host (DPKG|yes or DPKG|no) and, there, the state of each
# package in CEP_PACKAGES (PKG|name|status). Parsed by src/facts/packages.ts.
if command -v dpkg-query >/dev/null 2>&1; then
  echo 'DPKG|yes'
  if [ "${#CEP_PACKAGES[@]}" -gt 0 ]; then
    # shellcheck disable=SC2016 # ${Package} is dpkg-query's format, not a shell expansion
    dpkg-query -W -f='PKG|${Package}|${db:Status-Abbrev}\n' "${CEP_PACKAGES[@]}" 2>/dev/null || true
  fi
else
  echo 'DPKG|no'
fi
