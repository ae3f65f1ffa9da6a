// A host's restore points, pure: the `POINT|kind|name|epoch|bytes|sha256|checksum|tables|rows|
// files|bytes`, `OFFSITE|kind|name|epoch|bytes|complete` and `BACKUPS|field|value` lines of
// templates/remote/points.sh and backups.sh → typed restore points, newest first within a kind,
// each saying where its copies are (a backup only in the bucket is a restore point too). Tested on
// recorded outputs (test/backups/cases/).
import { BACKUP_KINDS, type BackupKind } from "../cli/options.ts";

export const CHECKSUM_STATES = ["yes", "no", "not checked", "missing"] as const;
export type ChecksumState = (typeof CHECKSUM_STATES)[number];

export type Where = "local" | "offsite" | "both";

export interface RestorePoint {
  kind: BackupKind;
  /** The file or folder name (what `restore --backup` takes). */
  name: string;
  /** When it was taken, by the time in its name (the host's clock), as UTC ISO. */
  time: string;
  epoch: number;
  age_seconds: number;
  /** File size; a media snapshot's bytes as its manifest records them. */
  bytes: number | null;
  /** The SHA-256 its .sha256 records (files only). */
  sha256: string | null;
  /** Verified now: yes, no (does not match), missing (no checksum/manifest), not checked. */
  checksum: ChecksumState;
  /** An age-encrypted backup (.age). */
  encrypted: boolean;
  /** Where its copies are: on the host, in the bucket (complete there), or both. */
  where: Where;
  /** Its copy in the bucket, when the bucket was listed: complete (with its .sha256 and manifest) or not. */
  offsite: { complete: boolean; bytes: number | null } | null;
  /** The manifest's headline: tables and rows (database), files and bytes (media, config). */
  manifest: { tables?: number; rows?: number; files?: number; bytes?: number } | null;
}

export interface PointsListing {
  now: number;
  backup_dir: string | null;
  points: RestorePoint[];
  took_ms: number | null;
  /** Why nothing could be listed (no backup directory); null when listed. */
  error: string | null;
  /** The bucket's listing: null when it was not asked for; else listed, or why not. */
  offsite: { listed: boolean; error: string | null } | null;
  /** Lines that were not understood (shown, never dropped silently). */
  unparsed: string[];
}

const num = (s: string | undefined): number | undefined => (s && /^\d+$/.test(s) ? Number(s) : undefined);

/** The restore points and the listing's fields from a backups/plan script's output. */
export function parsePoints(stdout: string, fallbackNow = Math.floor(Date.now() / 1000)): PointsListing {
  const fields = new Map<string, string>();
  const raw: string[][] = [];
  const unparsed: string[] = [];
  const remote: string[][] = [];
  for (const line of stdout.split("\n")) {
    if (line.startsWith("OFFSITE|")) {
      const f = line.split("|");
      if (f.length === 6 && (BACKUP_KINDS as readonly string[]).includes(f[1]!) && num(f[3]) !== undefined)
        remote.push(f);
      else unparsed.push(line);
      continue;
    }
    if (line.startsWith("POINT|")) {
      const f = line.split("|");
      if (f.length === 11 && (BACKUP_KINDS as readonly string[]).includes(f[1]!) && num(f[3]) !== undefined)
        raw.push(f);
      else unparsed.push(line);
      continue;
    }
    const m = /^BACKUPS\|([a-z_]+)\|(.*)$/.exec(line);
    if (m) fields.set(m[1]!, m[2]!);
  }
  const now = num(fields.get("now")) ?? fallbackNow;
  const points = raw.map((f): RestorePoint => {
    const [, kind, name, epoch, bytes, sha, check, tables, rows, files, mbytes] = f as [string, ...string[]];
    const e = Number(epoch);
    const headline = { tables: num(tables), rows: num(rows), files: num(files), bytes: num(mbytes) };
    const manifest = Object.fromEntries(Object.entries(headline).filter(([, v]) => v !== undefined));
    return {
      kind: kind as BackupKind,
      name: name!,
      time: new Date(e * 1000).toISOString(),
      epoch: e,
      age_seconds: Math.max(0, now - e),
      bytes: num(bytes) ?? null,
      sha256: sha && /^[0-9a-f]{64}$/.test(sha) ? sha : null,
      checksum: (CHECKSUM_STATES as readonly string[]).includes(check!) ? (check as ChecksumState) : "not checked",
      encrypted: name!.endsWith(".age"),
      where: "local",
      offsite: null,
      manifest: Object.keys(manifest).length ? manifest : null,
    };
  });
  mergeOffsite(points, remote, now);
  const offsite = fields.has("offsite_error")
    ? { listed: false, error: fields.get("offsite_error")! }
    : fields.get("offsite") === "listed"
      ? { listed: true, error: null }
      : null;
  return {
    now,
    backup_dir: fields.get("backup_dir") ?? null,
    points,
    took_ms: num(fields.get("took_ms")) ?? null,
    error: fields.get("error") ?? null,
    offsite,
    unparsed,
  };
}

/**
 * The bucket's copies into the local points: a local point with a complete copy there is "both";
 * a backup only in the bucket is a point of its own ("offsite"; its checksum "not checked", or
 * "missing" when the bucket lacks its .sha256 or manifest: incomplete, never restored). Every
 * kind stays newest first, in the listing's order of kinds (local points of the same time keep
 * their order).
 */
function mergeOffsite(points: RestorePoint[], remote: string[][], now: number): void {
  const byKey = new Map(points.map((p) => [`${p.kind}|${p.name}`, p]));
  for (const [, kind, name, epoch, bytes, complete] of remote as [string, ...string[]][]) {
    const copy = { complete: complete === "yes", bytes: num(bytes) ?? null };
    const local = byKey.get(`${kind}|${name}`);
    if (local) {
      local.offsite = copy;
      if (copy.complete) local.where = "both";
      continue;
    }
    const e = Number(epoch);
    const p: RestorePoint = {
      kind: kind as BackupKind,
      name: name!,
      time: new Date(e * 1000).toISOString(),
      epoch: e,
      age_seconds: Math.max(0, now - e),
      bytes: copy.bytes,
      sha256: null,
      checksum: copy.complete ? "not checked" : "missing",
      encrypted: name!.endsWith(".age"),
      where: "offsite",
      offsite: copy,
      manifest: null,
    };
    byKey.set(`${kind}|${name}`, p);
    points.push(p);
  }
  // The kinds in the order the listing gave them (a kind only in the bucket after those).
  const kinds = [...new Set(points.map((p) => p.kind))];
  points.sort((a, b) => kinds.indexOf(a.kind) - kinds.indexOf(b.kind) || b.epoch - a.epoch);
}

/** Restore points per kind, in the listing's order (newest first). */
export function countByKind(points: readonly RestorePoint[]): Record<BackupKind, number> {
  const c = Object.fromEntries(BACKUP_KINDS.map((k) => [k, 0])) as Record<BackupKind, number>;
  for (const p of points) c[p.kind]++;
  return c;
}
