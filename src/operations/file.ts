// Operation: a managed file. Compared by sha256, mode and owner; uploaded only when the content
// differs, to a temp name in the target directory, validated there, the old file kept as
// `<path>.<timestamp>~`, then renamed into place (atomic on the same filesystem).
import { createHash } from "node:crypto";
import type { DesiredFile } from "../backup/desired.ts";
import type { PathFact } from "../facts/files.ts";
import { shellQuote } from "../render/quote.ts";
import { modeString, type Planned } from "./types.ts";
import { maskSecrets, maskSecretKeys } from "./mask.ts";

// The same desired files (the scripts, byte for byte) are hashed for every host, twice (the facts
// command and the plan): each distinct content once per run.
const hashes = new Map<string, string>();

export function sha256(s: string): string {
  let h = hashes.get(s);
  if (h === undefined) {
    if (hashes.size >= 4096) hashes.clear();
    h = createHash("sha256").update(s).digest("hex");
    hashes.set(s, h);
  }
  return h;
}

/** A unified diff of one file: path, current text, desired text, and the labels of both sides. */
export type Differ = (path: string, before: string, after: string, beforeLabel: string, afterLabel: string) => string;

/** The differ of --diff: the diff library loads only for a run that shows diffs (planning stays sync). */
export async function loadDiffer(): Promise<Differ> {
  const { createTwoFilesPatch } = await import("diff");
  return (path, before, after, beforeLabel, afterLabel) =>
    createTwoFilesPatch(path, path, before, after, beforeLabel, afterLabel);
}

/** The plan of one file; with `opts.diff` (a differ: --diff), the diff of a content change. */
export function planFile(f: DesiredFile, fact: PathFact, opts: { diff?: Differ; secrets?: string[] } = {}): Planned {
  const base = { id: `file:${f.path}`, name: `file ${f.path}`, tags: f.tags };
  if (fact.exists && fact.type !== "file") {
    return {
      ...base,
      changed: false,
      reason: "",
      script: "",
      error: `${f.path} exists but is a ${fact.type}, not a regular file`,
    };
  }
  const want = sha256(f.content);
  const contentDiffers = !fact.exists || fact.sha256 !== want;
  const modeDiffers = fact.mode !== f.mode;
  const ownerDiffers = fact.owner !== f.owner || fact.group !== f.group;
  if (!contentDiffers && !modeDiffers && !ownerDiffers) {
    return {
      ...base,
      changed: false,
      reason: `${f.path} is up to date (sha256 ${want.slice(0, 12)}, ${modeString(f.mode)} ${f.owner}:${f.group})`,
      script: "",
    };
  }
  const why: string[] = [];
  if (!fact.exists) why.push("create");
  else {
    if (contentDiffers) why.push("content differs");
    if (modeDiffers) why.push(`mode ${modeString(fact.mode ?? 0)} → ${modeString(f.mode)}`);
    if (ownerDiffers) why.push(`owner ${fact.owner}:${fact.group} → ${f.owner}:${f.group}`);
  }
  const owner = shellQuote(`${f.owner}:${f.group}`);
  let script: string;
  let bytes = 0;
  if (contentDiffers) {
    const b64 = Buffer.from(f.content, "utf8")
      .toString("base64")
      .replace(/(.{76})/g, "$1\n");
    bytes = Buffer.byteLength(f.content);
    const validate = f.validate ? shellQuote(f.validate.replaceAll("{}", '"$CEP_TMP"')) : "''";
    // base64 never contains the delimiter, so the heredoc cannot end early.
    // The replaced file is kept beside the new one, except a secret file (old passwords would pile up).
    const keep = fact.exists && !f.secret ? 1 : 0;
    // The content this plan was made against: the apply script refuses to overwrite anything else.
    const seen = fact.exists ? (fact.sha256 ?? "unread") : "-";
    script = `cep_put ${shellQuote(f.path)} ${modeString(f.mode)} ${owner} ${validate} ${keep} ${shellQuote(seen)} <<'CEP_PAYLOAD_END'\n${b64}\nCEP_PAYLOAD_END`;
  } else {
    script = `chmod ${modeString(f.mode)} -- ${shellQuote(f.path)}\nchown ${owner} -- ${shellQuote(f.path)}`;
  }
  let diff: string | undefined;
  if (opts.diff && contentDiffers) {
    if (f.secret) diff = `--- ${f.path}\n+++ ${f.path}\n(secret file: content changed, diff masked)\n`;
    else if (fact.exists && fact.content === undefined)
      diff = `--- ${f.path}\n+++ ${f.path}\n(current content not available)\n`;
    else {
      const hide = (t: string) => maskSecretKeys(t, f.secretKeys ?? [], sha256);
      const before = fact.exists ? (fact.content ?? "") : "";
      diff = maskSecrets(
        opts.diff(f.path, hide(before), hide(f.content), fact.exists ? "current" : "absent", "desired"),
        opts.secrets ?? [],
      );
    }
  }
  return { ...base, changed: true, reason: `${f.path}: ${why.join(", ")}`, script, diff, bytes };
}
