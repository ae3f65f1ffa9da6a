// Scripts that run over SSH but are never installed (templates/remote/): plain bash files, sent with
// a generated header of this run's values (every value through shellQuote) in front. The smoke
// test, status and drill scripts also get the helpers they share (remote/common.sh) and the
// installed library's lib/newest.sh, so they pick backups exactly as check-backups does.
import type { ResolvedVars } from "../inventory/types.ts";
import { templateContext } from "../backup/context.ts";
import { shellAssignments, type ShellValue } from "./quote.ts";
import { templateFile } from "./files.ts";

export type ShellValues = Record<string, ShellValue>;

/** What the smoke test, status and drill scripts are sent with, after the values, before the script. */
const JOB_HELPERS = ["remote/common.sh", "scripts/lib/newest.sh"];

/** A file's text without its first line when that is a shebang (one goes at the top of the whole). */
const body = (text: string) => (text.startsWith("#!") ? text.slice(text.indexOf("\n") + 1) : text);

/**
 * templates/remote/<name> with `values` assigned in front (and, with `helpers`, files of templates/
 * between the two). Without a shebang in the file, the result is a fragment (a fact command).
 */
export function remoteScript(name: string, values: ShellValues = {}, helpers: string[] = []): string {
  const main = templateFile(`remote/${name}`);
  const shebang = main.startsWith("#!") ? main.slice(0, main.indexOf("\n") + 1) : "";
  // A whole script says where its parts come from; a fragment (a fact command) stays bare.
  // For shellcheck of the whole: not every script reads every value, and a `$` in a single-quoted
  // value is meant literally (the plain files are checked on their own, without these exceptions).
  const head = shebang
    ? `# shellcheck disable=SC2034,SC2016\n# This run's values (src/render/remote.ts), then ${[...helpers, `remote/${name}`].join(", ")}:\n`
    : "";
  return [shebang + head + shellAssignments(values), ...helpers.map((h) => body(templateFile(h))), body(main)].join(
    "\n",
  );
}

/** The host's values every job script (smoke, status, drill) reads; common.sh names them. */
export function jobValues(v: ResolvedVars): ShellValues {
  const c = templateContext(v);
  return {
    SCRIPTS: c.paths.scripts_dir,
    BACKUP_DIR: c.paths.backup_dir,
    LOCK_DIR: c.paths.lock_dir,
    STATUS_FILE: c.paths.status_file,
    BACKUP_USER: c.backup_user,
    CRON_PATH: c.cron_path,
    APP: c.app,
    DB_HOST: c.database.host,
    DB_PORT: c.database.port,
    DB_USER: c.database.user,
    PGPASSFILE: c.paths.pgpass_file,
  };
}

/** A job script (smoke.sh, status.sh, drill.sh...) for one host: its values and extras, the shared helpers (and `helpers`, more files of templates/), the script. */
export function jobScript(name: string, v: ResolvedVars, extra: ShellValues = {}, helpers: string[] = []): string {
  return remoteScript(name, { ...jobValues(v), ...extra }, [...JOB_HELPERS, ...helpers]);
}
