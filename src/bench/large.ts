// --scale large on one lab host: ~1 GiB of random media in a few thousand files and a million-row
// table, then a first media backup, 1% changes, a backup with nothing changed, hashing one snapshot,
// database backups and restores into a scratch database; disk use after every step. Everything it
// adds is removed at the end, also on an error.
import { rmSync } from "node:fs";
import { join } from "node:path";
import type { LabHost } from "../lab/lab.ts";
import { formatBytes } from "../format.ts";
import { check, median, nextSecond } from "./measure.ts";
import { dbSideBySide, type DbSide } from "./dbside.ts";
import {
  changeFiles,
  dropLargeTable,
  du,
  generateMedia,
  generateRows,
  hashTree,
  latestMediaManifest,
  listEntries,
  removeNew,
  runScript,
} from "./hostops.ts";

export interface DiskPoint {
  label: string;
  /** du of the media backups (hard links once), bytes. */
  real: number;
  apparent: number;
  /** The sum of every snapshot's own apparent size: what full copies would take. */
  as_full_copies: number;
}

export interface IncrementalSample {
  wall_ms: number;
  cpu_ms: number;
  bytes_transferred: number;
  files_transferred: number;
  rsync_seconds: number;
  changed_files: number;
  changed_bytes: number;
  extra_disk_bytes: number;
  extra_apparent_bytes: number;
  snapshot_apparent_bytes: number;
}

export interface LargeResult {
  media: { files: number; bytes: number; ms: number };
  db: { rows: number; ms: number; table_bytes: number; db_bytes: number };
  first_backup: {
    wall_ms: number;
    cpu_ms: number;
    bytes_transferred: number;
    files_transferred: number;
    rsync_seconds: number;
    disk_before: number;
    disk_after: number;
    apparent_after: number;
  };
  /** Medians of the samples (a 1% change before each). */
  incremental: { n: number; samples: IncrementalSample[] } & Omit<IncrementalSample, "rsync_seconds">;
  unchanged: { wall_ms: number; bytes_transferred: number; extra_disk_bytes: number };
  hash_tree_ms: number;
  db_backup: { n: number; samples: { wall_ms: number; dump_bytes: number }[]; wall_ms: number; dump_bytes: number };
  restore: { n: number; samples: number[]; wall_ms: number };
  disk_series: DiskPoint[];
  /** The database side by side with bare pg_dump / pg_restore (absent in runs recorded before it). */
  db_side?: DbSide;
}

export const LARGE_BYTES = 1024 ** 3;
export const LARGE_FILES = 4000;
export const LARGE_ROWS = 1_000_000;

const SNAPSHOT = /^\d{4}-\d\d-\d\d_\d\d-\d\d-\d\d$/;

/** `reps` 1% changes (and up to 3 database backups and restores); `say` reports progress. */
export async function largeScale(
  host: LabHost,
  backupDir: string,
  reps: number,
  say: (line: string) => void,
  rows = LARGE_ROWS,
): Promise<LargeResult> {
  const mediaBackups = join(backupDir, "media");
  const dumps = join(backupDir, "database");
  const before = { media: listEntries(mediaBackups), dumps: listEntries(dumps) };
  const src = join(host.mediaDir, "bench-large");
  const snapshotsApparent = async () => {
    let n = 0;
    for (const e of listEntries(mediaBackups)) if (SNAPSHOT.test(e)) n += await du(join(mediaBackups, e), true);
    return n;
  };
  const diskSeries: DiskPoint[] = [];
  const disk = async (label: string): Promise<DiskPoint> => {
    const d = {
      label,
      real: await du(mediaBackups),
      apparent: await du(mediaBackups, true),
      as_full_copies: await snapshotsApparent(),
    };
    diskSeries.push(d);
    return d;
  };
  try {
    say(
      `large: writing ~${formatBytes(LARGE_BYTES)} of random bytes in ${LARGE_FILES} files under ${host.name}'s uploads`,
    );
    const media = generateMedia(src, LARGE_BYTES, LARGE_FILES);
    say(`large: generating ${rows} rows`);
    const db = { rows, ...(await generateRows(host, rows)) };

    /** One media backup as cron runs it, with the disk use of the media backups before and after. */
    const backupMedia = async (what: string, before: string, after: string) => {
      const b = await disk(before);
      await nextSecond();
      const r = await runScript(host, "backup-media.sh");
      check(r, `backup-media.sh (${what})`);
      const m = latestMediaManifest(backupDir)!;
      return { r, m, b, d: await disk(after) };
    };

    say("large: first media backup");
    const first = await backupMedia("first", "before", "after the first large backup");
    const firstBackup = {
      wall_ms: first.r.wall_ms,
      cpu_ms: first.r.cpu_ms,
      bytes_transferred: first.m.bytes_transferred as number,
      files_transferred: first.m.files_transferred as number,
      rsync_seconds: first.m.rsync_seconds as number,
      disk_before: first.b.real,
      disk_after: first.d.real,
      apparent_after: first.d.apparent,
    };

    const inc: IncrementalSample[] = [];
    for (let rep = 0; rep < reps; rep++) {
      const changed = changeFiles(media.files, 0.01);
      say(
        `large: media backup after changing ${changed.files} files (${formatBytes(changed.bytes)}), ${rep + 1}/${reps}`,
      );
      const r = await backupMedia("incremental", `before incremental ${rep + 1}`, `after incremental ${rep + 1}`);
      const { b, d } = r;
      inc.push({
        wall_ms: r.r.wall_ms,
        cpu_ms: r.r.cpu_ms,
        bytes_transferred: r.m.bytes_transferred,
        files_transferred: r.m.files_transferred,
        rsync_seconds: r.m.rsync_seconds,
        changed_files: changed.files,
        changed_bytes: changed.bytes,
        extra_disk_bytes: d.real - b.real,
        extra_apparent_bytes: d.apparent - b.apparent,
        snapshot_apparent_bytes: d.as_full_copies - b.as_full_copies,
      });
    }
    const m = (f: keyof IncrementalSample) => median(inc.map((x) => x[f]));
    const incremental = {
      n: inc.length,
      samples: inc,
      wall_ms: m("wall_ms"),
      cpu_ms: m("cpu_ms"),
      bytes_transferred: m("bytes_transferred"),
      files_transferred: m("files_transferred"),
      changed_files: m("changed_files"),
      changed_bytes: m("changed_bytes"),
      extra_disk_bytes: m("extra_disk_bytes"),
      extra_apparent_bytes: m("extra_apparent_bytes"),
      snapshot_apparent_bytes: m("snapshot_apparent_bytes"),
    };

    say("large: media backup with nothing changed");
    const un = await backupMedia("unchanged", "before the unchanged backup", "after the unchanged backup");
    const unchanged = {
      wall_ms: un.r.wall_ms,
      bytes_transferred: un.m.bytes_transferred as number,
      extra_disk_bytes: un.d.real - un.b.real,
    };

    const latest = listEntries(mediaBackups)
      .filter((e) => SNAPSHOT.test(e))
      .pop()!;
    const hashMs = (await hashTree(join(mediaBackups, latest))).wall_ms;

    // The database: backup-database.sh and restore-database.sh side by side with bare pg_dump /
    // pg_restore (dbside.ts); the rows below are its script samples.
    const restoreReps = Math.min(reps, 3);
    const dbSide = await dbSideBySide(host, backupDir, restoreReps, say);
    const dbb = dbSide.samples.script!.map((wall_ms) => ({ wall_ms, dump_bytes: dbSide.dump_bytes }));
    const restores = dbSide.samples.restore!;
    return {
      db_side: dbSide,
      media: { files: media.files.length, bytes: media.bytes, ms: media.ms },
      db,
      first_backup: firstBackup,
      incremental,
      unchanged,
      hash_tree_ms: hashMs,
      db_backup: {
        n: dbb.length,
        samples: dbb,
        wall_ms: median(dbb.map((x) => x.wall_ms)),
        dump_bytes: median(dbb.map((x) => x.dump_bytes)),
      },
      restore: { n: restores.length, samples: restores, wall_ms: median(restores) },
      disk_series: diskSeries,
    };
  } finally {
    say("large: removing the generated media, its snapshots, the dumps and the table");
    rmSync(src, { recursive: true, force: true });
    removeNew(mediaBackups, before.media);
    removeNew(dumps, before.dumps);
    await dropLargeTable(host).catch(() => undefined);
  }
}
