// Progress, the one wiring every job uses: listr2 (one line per host, updated live) on a terminal,
// plain prefixed lines otherwise (CI, pipes, --json runs), or none for a job whose output is meant
// for pipes (status prints only its table). The runner hands each batch to `runBatch`. listr2
// loads only for a run at a terminal.
import type { Host } from "../inventory/types.ts";
import type { HostReport } from "./report.ts";
import { pool } from "../pool.ts";

export interface Ui {
  runBatch(batch: Host[], forks: number, work: (h: Host) => Promise<HostReport>): Promise<HostReport[]>;
  log(host: string, line: string): void;
}

export function plainUi(out: (line: string) => void = (l) => process.stdout.write(`${l}\n`)): Ui {
  return {
    runBatch: (batch, forks, work) =>
      pool(batch, forks, async (h) => {
        const r = await work(h);
        out(`[${h.name}] ${r.status}${r.error ? `: ${r.error.split("\n")[0]}` : ""}`);
        return r;
      }),
    log: (host, line) => out(`[${host}] ${line}`),
  };
}

export function listrUi(): Ui {
  const lastLine = new Map<string, (l: string) => void>();
  return {
    async runBatch(batch, forks, work) {
      const { Listr } = await import("listr2");
      const results = new Map<string, HostReport>();
      const list = new Listr(
        batch.map((h) => ({
          title: h.name,
          task: async (_ctx: unknown, task: { title: string; output: string }) => {
            lastLine.set(h.name, (l) => (task.output = l));
            const r = await work(h);
            results.set(h.name, r);
            task.title = `${h.name}: ${r.status} (ok=${r.ok} changed=${r.changed} failed=${r.failed})`;
            if (r.status === "failed" || r.status === "unreachable")
              throw new Error(`${h.name}: ${r.status}${r.error ? `: ${r.error.split("\n")[0]}` : ""}`);
          },
        })),
        { concurrent: forks, exitOnError: false, rendererOptions: { collapseErrors: false } },
      );
      await list.run().catch(() => undefined);
      return batch.map((h) => results.get(h.name)!);
    },
    log: (host, line) => lastLine.get(host)?.(line),
  };
}

/** No progress: the hosts run --forks at once, quietly. */
export const quietUi: Ui = { runBatch: (batch, forks, work) => pool(batch, forks, work), log: () => undefined };

/** The progress display of a run: listr2 on a terminal (unless --json), else lines or, if `quiet`, nothing. */
export function jobUi(opts: { json?: string; quiet?: boolean }, out: (line: string) => void): Ui {
  if (process.stdout.isTTY && !opts.json) return listrUi();
  return opts.quiet ? quietUi : plainUi(out);
}
