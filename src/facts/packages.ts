// Fact: which Debian packages are installed (dpkg-query), and whether this is a Debian-like host.
import { shellQuoteList } from "../render/quote.ts";

export interface PackagesFact {
  dpkg: boolean;
  installed: Set<string>;
}

export function packagesCommand(names: string[]): string {
  return [
    "if command -v dpkg-query >/dev/null 2>&1; then echo 'DPKG|yes'",
    names.length
      ? `  dpkg-query -W -f='PKG|\${Package}|\${db:Status-Abbrev}\\n' ${shellQuoteList(names)} 2>/dev/null || true`
      : "  :",
    "else echo 'DPKG|no'; fi",
  ].join("\n");
}

export function parsePackages(output: string): PackagesFact {
  const installed = new Set<string>();
  let dpkg = false;
  for (const line of output.split("\n")) {
    const [kind, a, b] = line.split("|");
    if (kind === "DPKG") dpkg = a === "yes";
    // "ii " = desired install, currently installed.
    if (kind === "PKG" && a && b?.startsWith("ii")) installed.add(a);
  }
  return { dpkg, installed };
}
