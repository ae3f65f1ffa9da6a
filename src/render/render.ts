// The handlebars instance: no HTML escaping (these are shell scripts and config files), strict
// (a missing variable is an error, not an empty string), helpers for quoting, and the partials.
import Handlebars from "handlebars";
import { readFileSync, readdirSync, existsSync } from "node:fs";
import { join, dirname, basename } from "node:path";
import { fileURLToPath } from "node:url";
import { shellQuote, shellQuoteList, pgpassField } from "./quote.ts";

export const TEMPLATES_DIR = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "templates");

/** The header every managed file carries (no timestamp, so re-renders are byte-identical). */
export const MANAGED_BY = "Managed by cep-backup-provisioner: local changes are overwritten on the next provision.";

export function createRenderer(templatesDir: string = TEMPLATES_DIR) {
  const hb = Handlebars.create();
  hb.registerHelper("q", (v: unknown) => {
    if (v === undefined || v === null) throw new Error("q: value is missing");
    if (Array.isArray(v)) return shellQuoteList(v as (string | number)[]);
    return shellQuote(v as string | number | boolean);
  });
  hb.registerHelper("pgpass", (v: unknown) => pgpassField(v as string));
  // cron(8) turns an unescaped % in a command into a newline: quote for the shell, then escape %.
  hb.registerHelper("cronq", (v: unknown) => shellQuote(v as string).replace(/%/g, "\\%"));
  // logrotate paths: double-quoted, so spaces and non-ASCII survive (logrotate has no escapes:
  // a path with a quote or brace is rejected by validate.ts before any host is contacted).
  hb.registerHelper("lrq", (v: unknown) => `"${String(v)}"`);
  hb.registerHelper("json", (v: unknown) => JSON.stringify(v));
  hb.registerHelper("eq", (a: unknown, b: unknown) => a === b);
  hb.registerHelper("or", (...args: unknown[]) => args.slice(0, -1).some(Boolean));
  hb.registerHelper("and", (...args: unknown[]) => args.slice(0, -1).every(Boolean));
  hb.registerHelper("not", (a: unknown) => !a);
  hb.registerHelper("managed_by", () => MANAGED_BY);

  const partialsDir = join(templatesDir, "partials");
  if (existsSync(partialsDir)) {
    for (const f of readdirSync(partialsDir)) {
      if (f.endsWith(".hbs"))
        hb.registerPartial(basename(f, ".hbs").replace(/\.sh$/, ""), readFileSync(join(partialsDir, f), "utf8"));
    }
  }
  const cache = new Map<string, HandlebarsTemplateDelegate>();
  return {
    /** Render templates/<name> (e.g. "scripts/backup-database.sh.hbs") with a context. */
    render(name: string, context: object): string {
      let t = cache.get(name);
      if (!t) {
        t = hb.compile(readFileSync(join(templatesDir, name), "utf8"), { noEscape: true, strict: true });
        cache.set(name, t);
      }
      return t(context);
    },
    /** The script templates present in templates/scripts, as output file names. */
    scriptNames(): string[] {
      const dir = join(templatesDir, "scripts");
      return existsSync(dir)
        ? readdirSync(dir)
            .filter((f) => f.endsWith(".sh.hbs"))
            .map((f) => f.slice(0, -4))
            .sort()
        : [];
    },
  };
}
export type Renderer = ReturnType<typeof createRenderer>;
