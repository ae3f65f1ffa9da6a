// Secrets never reach diffs, logs or reports: every occurrence of a secret value is replaced.

export const MASK = "********";

export function maskSecrets(text: string, secrets: readonly string[]): string {
  let out = text;
  // Longest first, so a secret containing another is masked whole.
  for (const s of [...secrets].filter((x) => x.length > 0).sort((a, b) => b.length - a.length)) out = out.split(s).join(MASK);
  return out;
}
