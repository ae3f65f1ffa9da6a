// The templates folder and its plain files: templates/scripts/ (the installed backup system, copied
// byte for byte) and templates/remote/ (scripts sent over SSH, never installed). Rendered config
// (templates/*.hbs) is render.ts's.
import { readFileSync, readdirSync, existsSync } from "node:fs";
import { join, dirname, relative } from "node:path";
import { fileURLToPath } from "node:url";

export const TEMPLATES_DIR = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "templates");

/** The header every managed file carries (no timestamp, so re-renders are byte-identical). */
export const MANAGED_BY = "Managed by cep-backup-provisioner: local changes are overwritten on the next provision.";

export interface PlainFile {
  /** Path relative to its folder, e.g. "backup-lib.sh" or "lib/core.sh". */
  name: string;
  content: string;
}

const cache = new Map<string, string>();

/** templates/<name>, read once per process. */
export function templateFile(name: string, templatesDir: string = TEMPLATES_DIR): string {
  const path = join(templatesDir, name);
  let text = cache.get(path);
  if (text === undefined) {
    text = readFileSync(path, "utf8");
    cache.set(path, text);
  }
  return text;
}

/** Every .sh file under templates/scripts (lib/ included), sorted: what lands in scripts_dir. */
export function installedScripts(templatesDir: string = TEMPLATES_DIR): PlainFile[] {
  const root = join(templatesDir, "scripts");
  if (!existsSync(root)) return [];
  return (readdirSync(root, { recursive: true, encoding: "utf8" }) as string[])
    .map((f) => relative(root, join(root, f)))
    .filter((f) => f.endsWith(".sh"))
    .sort()
    .map((name) => ({ name, content: templateFile(join("scripts", name), templatesDir) }));
}
