// The drill history page (pure rendering), from reports built on recorded drill outputs; then the
// page opened in headless Chromium: no console error, nothing loaded, one point per drill per host.
import { describe, it, expect, afterAll } from "vitest";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { drillIndexHtml, drillPoints, type DrillHistoryEntry } from "../../src/drill/html.ts";
import { readDrillHistory, writeDrillIndex } from "../../src/drill/history.ts";
import { caseHost, caseReport } from "../helpers/drill-cases.ts";
import { openInChromium } from "../helpers/chromium.ts";

const entries: DrillHistoryEntry[] = [
  {
    file: "20260901T100000Z.json",
    report: caseReport([caseHost("web1", "pass"), caseHost("web2", "pass")], "2026-09-01T10:00:00.000Z"),
  },
  {
    file: "20261201T101419Z.json",
    report: caseReport(
      [caseHost("web1", "rto-target-missed"), caseHost("web2<b>", "config-file-corrupted")],
      "2026-12-01T10:14:19.000Z",
    ),
  },
];

const circles = (html: string, chart: string) => {
  const svg = new RegExp(`<svg class="chart" data-chart="${chart}"[\\s\\S]*?</svg>`).exec(html)![0];
  return [...svg.matchAll(/<circle data-host="([^"]*)" data-drill="([^"]*)" data-value="([^"]*)"/g)].map((m) => ({
    host: m[1],
    drill: m[2],
    value: Number(m[3]),
  }));
};

describe("drill history page", () => {
  const html = drillIndexHtml("staging", entries);

  it("one point per host per drill in each chart, the targets drawn, oldest first", () => {
    expect(drillPoints(entries).map((p) => `${p.drill} ${p.host}`)).toEqual([
      "2026-09-01T10:00:00.000Z web1",
      "2026-09-01T10:00:00.000Z web2",
      "2026-12-01T10:14:19.000Z web1",
      "2026-12-01T10:14:19.000Z web2<b>",
    ]);
    const rto = circles(html, "rto");
    expect(rto.map((c) => `${c.host} ${c.value}`).sort()).toEqual(
      ["web1 1113", "web1 1113", "web2 1113", "web2&lt;b&gt; 1113"].sort(),
    );
    expect(circles(html, "rpo")).toHaveLength(4);
    // Targets: RTO 60 min and 0 min (the second drill's web1), RPO 26 h.
    expect([...html.matchAll(/class="target" data-target="(\d+)"/g)].map((m) => Number(m[1]))).toEqual([
      0,
      3_600_000,
      26 * 3600,
    ]);
  });

  it("history newest first, a table per host with its targets and failed checks; escaped", () => {
    expect(html).toContain('<p>2 drill(s). Last: 2026-12-01T10:14:19.000Z, <span class="FAILED">FAILED</span>');
    const hist = html.indexOf("<h2>History</h2>");
    expect(html.indexOf("2026-12-01T10:14:19.000Z</td>", hist)).toBeLessThan(
      html.indexOf("2026-09-01T10:00:00.000Z</td>", hist),
    );
    expect(html).toContain('<a href="20261201T101419Z.md">20261201T101419Z.md</a>');
    expect(html).toContain("<h2>web1</h2>");
    expect(html).toContain("<h2>web2&lt;b&gt;</h2>");
    expect(html).not.toContain("web2<b>");
    expect(html).toMatch(
      /<td>drill targets: RTO target missed: the recovery took 1\.11s, target 0 min, missed by 1\.11s/,
    );
    expect(html).toMatch(/<td>1\.11s<\/td><td>0 min<\/td><td>1s<\/td><td>26 h<\/td>/);
    expect(html).toContain("drill config: failed: differs from the archive: payload.config.ts");
    // Self-contained: nothing to load, no script.
    expect(html).not.toMatch(/<script|src=|https?:|@import|url\(/i);
    expect(html).toContain(`content="default-src 'none'; style-src 'unsafe-inline'"`);
  });

  it("the history says each drill's mode: live, or scratch (also for reports from before --live)", () => {
    const live = caseReport([caseHost("web1", "live-pass")], "2026-12-02T10:00:00.000Z");
    live.drill.mode = "live";
    const old = caseReport([caseHost("web1", "pass")], "2026-08-01T10:00:00.000Z");
    delete (old.drill as Partial<typeof old.drill>).mode;
    const page = drillIndexHtml("staging", [
      { file: "20260801T100000Z.json", report: old },
      ...entries,
      { file: "20261202T100000Z.json", report: live },
    ]);
    expect(page).toContain("<th>Verdict</th><th>Mode</th><th>Hosts passed</th>");
    expect([...page.matchAll(/<td data-mode="(\w+)">\1<\/td>/g)].map((m) => m[1])).toEqual([
      "live",
      "scratch",
      "scratch",
      "scratch",
    ]);
  });

  it("reads the folder: every JSON report, unreadable ones listed with the reason", () => {
    const dir = mkdtempSync(join(tmpdir(), "drill-html-"));
    try {
      for (const e of entries) writeFileSync(join(dir, e.file), JSON.stringify(e.report));
      writeFileSync(join(dir, "broken.json"), "{");
      writeFileSync(join(dir, "notes.md"), "# not a report");
      const h = readDrillHistory(dir);
      expect(h.map((e) => [e.file, !!e.report, e.error?.slice(0, 14)])).toEqual([
        ["20260901T100000Z.json", true, undefined],
        ["20261201T101419Z.json", true, undefined],
        ["broken.json", false, "not valid JSON"],
      ]);
      const page = readFileSync(writeDrillIndex(dir, "staging"), "utf8");
      expect(circles(page, "rto")).toHaveLength(4);
      expect(page).toMatch(/<li>broken\.json: not valid JSON/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("drill history page in headless Chromium", () => {
  const dir = mkdtempSync(join(tmpdir(), "drill-chromium-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("renders with no console message, loads nothing, shows 2 points per host per chart", async () => {
    const page = join(dir, "index.html");
    writeFileSync(page, drillIndexHtml("staging", entries));
    const r = await openInChromium(page, dir);
    expect(r.consoleLines).toEqual([]);
    const dom = r.dom;
    expect(dom).toContain("<h1>Restore drills: staging</h1>");
    for (const chart of ["rto", "rpo"]) {
      const pts = circles(dom, chart);
      expect(pts.filter((p) => p.host === "web1").map((p) => p.drill)).toEqual([
        "2026-09-01T10:00:00.000Z",
        "2026-12-01T10:14:19.000Z",
      ]);
      expect(pts.filter((p) => p.host === "web2")).toHaveLength(1);
      expect(pts.filter((p) => p.host === "web2&lt;b&gt;")).toHaveLength(1);
    }
    // A real picture: a PNG of the page, not an empty one.
    const png = readFileSync(r.screenshot);
    expect(png.subarray(1, 4).toString()).toBe("PNG");
    expect(statSync(r.screenshot).size).toBeGreaterThan(20_000);
  }, 60_000);
});
