// The status command's remote script: run the installed check-backups.sh --no-alert as the backup
// user and print the status JSON it wrote (`STATUS|field|value` lines, read by parse.ts).
import type { Host } from "../inventory/types.ts";
import { templateContext } from "../backup/context.ts";
import { createRenderer, type Renderer } from "../render/render.ts";

let renderer: Renderer | undefined;

export function statusScript(host: Host): string {
  renderer ??= createRenderer();
  return renderer.render("status.sh.hbs", templateContext(host.vars));
}
