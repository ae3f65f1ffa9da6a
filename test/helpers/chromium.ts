// Debian's chromium, headless: a page's DOM after load, its console lines and a screenshot.
import { join } from "node:path";
import { execa } from "execa";

/** Open a page in Debian's headless Chromium: its DOM after load, its console lines, a screenshot. */
export async function openInChromium(
  page: string,
  dir: string,
): Promise<{ dom: string; consoleLines: string[]; screenshot: string }> {
  const base = ["--headless=new", "--no-sandbox", "--disable-gpu", `--user-data-dir=${join(dir, "profile")}`];
  const url = `file://${page}`;
  const d = await execa("chromium", [...base, "--enable-logging=stderr", "--v=0", "--dump-dom", url], {
    reject: false,
    timeout: 45_000,
  });
  if (d.exitCode !== 0) throw new Error(`chromium --dump-dom exit ${d.exitCode}: ${d.stderr}`);
  const screenshot = join(dir, "page.png");
  const s = await execa("chromium", [...base, `--screenshot=${screenshot}`, "--window-size=1200,1600", url], {
    reject: false,
    timeout: 45_000,
  });
  if (s.exitCode !== 0) throw new Error(`chromium --screenshot exit ${s.exitCode}: ${s.stderr}`);
  // Console messages (and CSP refusals, which are console errors) are logged as ":CONSOLE" lines.
  const consoleLines = d.stderr.split("\n").filter((l) => /:CONSOLE|Content Security Policy|Refused to/.test(l));
  return { dom: d.stdout, consoleLines, screenshot };
}
