// Fact: which Debian packages are installed (dpkg-query), and whether this is a Debian-like host.
import { remoteScript } from "../render/remote.ts";

export interface PackagesFact {
  dpkg: boolean;
  installed: Set<string>;
}

/** templates/remote/facts/packages.sh for these packages. */
export function packagesCommand(names: string[]): string {
  return remoteScript("facts/packages.sh", { CEP_PACKAGES: names });
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
