// Secrets never reach diffs, logs or reports: every occurrence of a secret value is replaced.

export const MASK = "********";

export function maskSecrets(text: string, secrets: readonly string[]): string {
  let out = text;
  // Longest first, so a secret containing another is masked whole.
  for (const s of [...secrets].filter((x) => x.length > 0).sort((a, b) => b.length - a.length))
    out = out.split(s).join(MASK);
  return out;
}

/**
 * Mask the values of secret-bearing keys (`KEY=value` lines) whatever the value is, so an old
 * secret on the removed side of a diff is hidden too. A short hash keeps a rotation visible.
 */
export function maskSecretKeys(text: string, keys: readonly string[], hash: (s: string) => string): string {
  if (keys.length === 0) return text;
  const re = new RegExp(`^(\\s*(?:export\\s+)?(?:${keys.join("|")})=)(.+)$`, "gm");
  return text.replace(re, (_m, head: string, value: string) =>
    value === "''" || value === "" ? `${head}${value}` : `${head}${MASK}(sha256:${hash(value).slice(0, 8)})`,
  );
}
