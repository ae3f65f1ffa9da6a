// The handlebars instance for the rendered config (templates/*.hbs: backup.conf, pgpass, cron,
// logrotate, the off-site rclone config): no HTML escaping, strict (a missing variable is an error, not an empty string),
// helpers for quoting. Scripts are plain files (files.ts, remote.ts), not templates.
import Handlebars from "handlebars";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { shellQuote, shellQuoteList, pgpassField, iniValue } from "./quote.ts";
import { TEMPLATES_DIR, MANAGED_BY } from "./files.ts";
import { PRECOMPILED } from "./precompiled.ts";

export { TEMPLATES_DIR, MANAGED_BY };

/** How every template is compiled (the bundle's precompiled specs are used only if made with these). */
export const COMPILE_OPTIONS = { noEscape: true, strict: true } as const;

/** The precompiled spec of exactly this template text, if the bundle holds one made with COMPILE_OPTIONS. */
function precompiledSpec(text: string): TemplateSpecification | undefined {
  if (JSON.stringify(PRECOMPILED.options) !== JSON.stringify(COMPILE_OPTIONS)) return undefined;
  return PRECOMPILED.templates[createHash("sha256").update(text).digest("hex")] as TemplateSpecification | undefined;
}

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
  // rclone's config (the off-site credentials): plain INI values, checked (quote.ts).
  hb.registerHelper("ini", (v: unknown) => iniValue(v as string));
  hb.registerHelper("managed_by", () => MANAGED_BY);

  const cache = new Map<string, HandlebarsTemplateDelegate>();
  return {
    /** The templates folder this renderer reads (its scripts/ are installed from here too). */
    dir: templatesDir,
    /** Render templates/<name> (e.g. "backup.conf.hbs") with a context. */
    render(name: string, context: object): string {
      if (!name.endsWith(".hbs")) throw new Error(`${name}: only templates/*.hbs are rendered`);
      let t = cache.get(name);
      if (!t) {
        const text = readFileSync(join(templatesDir, name), "utf8");
        const spec = precompiledSpec(text);
        t = spec ? hb.template(spec) : hb.compile(text, { ...COMPILE_OPTIONS });
        cache.set(name, t);
      }
      return t(context);
    },
  };
}
export type Renderer = ReturnType<typeof createRenderer>;
