// Operation: Debian packages. Installs only what is missing, waiting for the dpkg lock.
import type { PackagesFact } from "../facts/packages.ts";
import { shellQuoteList } from "../render/quote.ts";
import type { Planned } from "./types.ts";

export function planPackages(wanted: string[], fact: PackagesFact): Planned {
  const base = { id: "packages", name: "packages", tags: ["packages" as const] };
  if (wanted.length === 0) return { ...base, changed: false, reason: "no packages wanted", script: "" };
  if (!fact.dpkg)
    return {
      ...base,
      changed: false,
      reason: "",
      script: "",
      error: "dpkg-query not found: only Debian/Ubuntu hosts are supported",
    };
  const missing = wanted.filter((p) => !fact.installed.has(p));
  if (missing.length === 0)
    return { ...base, changed: false, reason: `all ${wanted.length} packages installed`, script: "" };
  return {
    ...base,
    changed: true,
    reason: `install ${missing.join(", ")}`,
    script: `cep_apt_install ${shellQuoteList(missing)}`,
  };
}
