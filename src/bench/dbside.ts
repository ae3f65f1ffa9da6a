// --scale large, the database side by side: backup-database.sh next to a bare `pg_dump -Fc` of the
// same database (same compression, the default), the opt-in parallel dump (database.dump_jobs 2)
// next to both, and restore-database.sh into a scratch database next to a bare createdb +
// pg_restore + vacuumdb --analyze-only, with the same number of jobs. Interleaved, in a rotating
// order, so a noisy neighbour hits every variant alike; medians of `reps`. Each sample also has its
// CPU: the client side's (pg_dump, pg_restore, the script and what it runs) and the server's (the
// backends, reaped by the postmaster), so a miss on 2 CPUs can be told from a limit of the machine.
// restore-database.sh logs how long each of its steps took ("steps (s): ..."): their medians too.
import { chownSync, copyFileSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { LabHost } from "../lab/lab.ts";
import { check, median, nextSecond, timed, type RunResult } from "./measure.ts";
import { dropDatabase, du, hostConf, latestDump, scriptPath, CRON_ENV } from "./hostops.ts";

/** Parallel jobs of the parallel dump and of every restore (the machine's 2 CPUs). */
export const DB_JOBS = 2;

export interface DbSide {
  n: number;
  jobs: number;
  /** Medians, ms. */
  script_ms: number;
  bare_ms: number;
  parallel_ms: number;
  bare_dir_ms: number;
  restore_ms: number;
  bare_restore_ms: number;
  restore_parallel_ms: number;
  dump_bytes: number;
  parallel_bytes: number;
  samples: Record<string, number[]>;
  /** Client + server CPU per sample, ms, by the same keys as `samples` (absent in older runs). */
  cpu_samples?: Record<string, number[]>;
  /** Medians of restore-database.sh's own step times, ms, for "restore" and "restore_parallel". */
  restore_steps?: Record<string, Record<string, number>>;
  /** Median of a bare createdb + pg_restore + vacuumdb of a -Fc dump written to a pipe (no data offsets, as an encrypted dump's plaintext is). */
  bare_restore_stream_ms?: number;
  /** Medians of the bare restore's parts (createdb, pg_restore, vacuumdb), ms. */
  bare_restore_steps?: Record<string, number>;
}

/** restore-database.sh's "steps (s): start 0.212, checksum 0.401, ...; total 11.3" log line, in ms. */
export function parseRestoreSteps(log: string): Record<string, number> | undefined {
  const m = /steps \(s\): (.*); total ([\d.]+)/.exec(log);
  if (!m) return undefined;
  const out: Record<string, number> = {};
  for (const part of m[1]!.split(", ")) {
    const [k, v] = part.split(" ");
    if (k && v) out[k] = Number(v) * 1000;
  }
  out.total = Number(m[2]) * 1000;
  return out;
}

/** The postmaster's PID (its reaped children's CPU is the server side's). */
function postmasterPid(host: LabHost): number {
  return Number(readFileSync(join(host.pgDataDir, "postmaster.pid"), "utf8").split("\n")[0]);
}

const PG_BIN = "/usr/lib/postgresql/15/bin";
const SCRATCH = "bench_restore";

/** `reps` rounds of every variant; `say` reports progress. Removes what it wrote (not the dumps: large.ts does). */
export async function dbSideBySide(
  host: LabHost,
  backupDir: string,
  reps: number,
  say: (line: string) => void,
): Promise<DbSide> {
  const conf = hostConf(host);
  const confPath = join(host.prefix, "etc", "cepcomunicacion", "backup.conf");
  const parallelConf = `${confPath}.bench-parallel`;
  copyFileSync(confPath, parallelConf);
  const st = statSync(confPath);
  chownSync(parallelConf, st.uid, st.gid);
  writeFileSync(
    parallelConf,
    `${readFileSync(confPath, "utf8").replace(/^DB_DUMP_JOBS=.*$/m, "")}\nDB_DUMP_JOBS=${DB_JOBS}\n`,
  );
  const dumps = join(backupDir, "database");
  const bareFile = join(backupDir, "bench-bare.dump");
  const streamFile = join(backupDir, "bench-stream.dump");
  const bareDir = join(backupDir, "bench-bare.dir");
  const conn = ["-h", conf.DB_HOST!, "-p", conf.DB_PORT!, "-U", conf.DB_USER!, "-w"];
  const env = { ...CRON_ENV, PGPASSFILE: conf.PGPASSFILE! };
  const hostPids = [postmasterPid(host)];
  const bare = (cmd: string, args: string[]) =>
    timed("bash", ["-c", cmd, "bench", ...args], { extendEnv: false, env, hostPids });
  const runScript = (name: string, args: string[] = [], extra: Record<string, string> = {}) =>
    timed(scriptPath(host, name), args, { extendEnv: false, env: { ...CRON_ENV, ...extra }, hostPids });
  const samples: Record<string, number[]> = {};
  const cpuSamples: Record<string, number[]> = {};
  const steps: Record<string, Record<string, number>[]> = {};
  const add = (k: string, r: RunResult, what: string) => {
    check(r, what);
    (samples[k] ??= []).push(r.wall_ms);
    (cpuSamples[k] ??= []).push(r.cpu_ms + r.host_cpu_ms);
  };
  let dumpBytes: number[] = [];
  let parallelBytes: number[] = [];
  let scriptDump = "";
  let parallelDump = "";

  const backups: Record<string, () => Promise<void>> = {
    script: async () => {
      await nextSecond();
      add("script", await runScript("backup-database.sh"), "backup-database.sh");
      scriptDump = join(dumps, latestDump(backupDir)!);
      dumpBytes.push(await du(scriptDump, true));
    },
    parallel: async () => {
      await nextSecond();
      add(
        "parallel",
        await runScript("backup-database.sh", [], { BACKUP_CONF: parallelConf }),
        "backup-database.sh (dump_jobs)",
      );
      parallelDump = join(dumps, latestDump(backupDir)!);
      parallelBytes.push(await du(parallelDump, true));
    },
    bare: async () => {
      rmSync(bareFile, { force: true });
      add(
        "bare",
        await bare(`"${PG_BIN}/pg_dump" -Fc "$@" -d "${conf.DB_NAME}" -f "${bareFile}"`, conn),
        "bare pg_dump -Fc",
      );
    },
    bare_dir: async () => {
      rmSync(bareDir, { recursive: true, force: true });
      add(
        "bare_dir",
        await bare(`"${PG_BIN}/pg_dump" -Fd -j ${DB_JOBS} "$@" -d "${conf.DB_NAME}" -f "${bareDir}"`, conn),
        "bare pg_dump -Fd -j",
      );
    },
  };
  const restoreWith = async (key: string, dump: string) => {
    await dropDatabase(host, SCRATCH);
    await nextSecond();
    const r = await runScript("restore-database.sh", [dump, "--force", "--target-db", SCRATCH, "--jobs", `${DB_JOBS}`]);
    add(key, r, `restore-database.sh (${key})`);
    const st = parseRestoreSteps(r.stderr);
    if (st) (steps[key] ??= []).push(st);
  };
  // Its parts timed too (EPOCHREALTIME, no extra process), printed as "bare steps: T0 T1 T2 T3".
  const bareRestore = (file: string) =>
    bare(
      `t0=$EPOCHREALTIME && "${PG_BIN}/createdb" "$@" -T template0 -O "${conf.DB_USER}" ${SCRATCH} &&
       t1=$EPOCHREALTIME && "${PG_BIN}/pg_restore" --no-owner --exit-on-error -j ${DB_JOBS} "$@" -d ${SCRATCH} "${file}" &&
       t2=$EPOCHREALTIME && "${PG_BIN}/vacuumdb" --analyze-only -q "$@" -d ${SCRATCH} &&
       echo "bare steps: $t0 $t1 $t2 $EPOCHREALTIME"`,
      conn,
    );
  const bareSteps: Record<string, number>[] = [];
  const noteBareSteps = (r: RunResult) => {
    const m = /bare steps: ([\d.]+) ([\d.]+) ([\d.]+) ([\d.]+)/.exec(r.stdout);
    if (!m) return;
    const t = m.slice(1).map(Number);
    bareSteps.push({
      createdb: (t[1]! - t[0]!) * 1000,
      pg_restore: (t[2]! - t[1]!) * 1000,
      vacuumdb: (t[3]! - t[2]!) * 1000,
    });
  };
  const restores: Record<string, () => Promise<void>> = {
    restore: () => restoreWith("restore", scriptDump),
    restore_parallel: () => restoreWith("restore_parallel", parallelDump),
    bare_restore: async () => {
      await dropDatabase(host, SCRATCH);
      const r = await bareRestore(bareFile);
      add("bare_restore", r, "bare createdb + pg_restore + vacuumdb --analyze-only");
      noteBareSteps(r);
    },
    bare_restore_stream: async () => {
      await dropDatabase(host, SCRATCH);
      add("bare_restore_stream", await bareRestore(streamFile), "bare pg_restore of a dump written to a pipe");
    },
  };
  const rotate = <T>(xs: T[], k: number) => xs.map((_, i) => xs[(i + k) % xs.length]!);
  try {
    // Once, not measured: a -Fc dump written to a pipe (no data offsets in its table of contents),
    // what an encrypted dump's plaintext is, restored bare beside the others.
    say("large: database side by side: a -Fc dump written to a pipe");
    check(
      await bare(`set -o pipefail; "${PG_BIN}/pg_dump" -Fc "$@" -d "${conf.DB_NAME}" | cat >"${streamFile}"`, conn),
      "pg_dump -Fc | cat",
    );
    for (let rep = 0; rep < reps; rep++) {
      say(`large: database side by side ${rep + 1}/${reps}: dumps`);
      for (const k of rotate(Object.keys(backups), rep)) await backups[k]!();
      say(`large: database side by side ${rep + 1}/${reps}: restores`);
      for (const k of rotate(Object.keys(restores), rep)) await restores[k]!();
    }
  } finally {
    rmSync(parallelConf, { force: true });
    rmSync(bareFile, { force: true });
    rmSync(streamFile, { force: true });
    rmSync(bareDir, { recursive: true, force: true });
    await dropDatabase(host, SCRATCH).catch(() => undefined);
  }
  const m = (k: string) => median(samples[k] ?? []);
  const stepMedians = (k: string) => {
    const runs = steps[k] ?? [];
    const names = [...new Set(runs.flatMap((r) => Object.keys(r)))];
    return Object.fromEntries(names.map((n) => [n, median(runs.map((r) => r[n] ?? 0))]));
  };
  return {
    n: reps,
    jobs: DB_JOBS,
    script_ms: m("script"),
    bare_ms: m("bare"),
    parallel_ms: m("parallel"),
    bare_dir_ms: m("bare_dir"),
    restore_ms: m("restore"),
    bare_restore_ms: m("bare_restore"),
    restore_parallel_ms: m("restore_parallel"),
    dump_bytes: median(dumpBytes),
    parallel_bytes: median(parallelBytes),
    samples,
    cpu_samples: cpuSamples,
    restore_steps: { restore: stepMedians("restore"), restore_parallel: stepMedians("restore_parallel") },
    bare_restore_stream_ms: m("bare_restore_stream"),
    bare_restore_steps: Object.fromEntries(
      ["createdb", "pg_restore", "vacuumdb"].map((k) => [k, median(bareSteps.map((b) => b[k]!))]),
    ),
  };
}
