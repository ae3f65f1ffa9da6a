// The drill history page, pure: every drill report (JSON) of an inventory's report folder → one
// self-contained index.html: the history, a table per host, and charts of RTO and RPO over time with
// the targets drawn (inline SVG). No script, no style sheet, image or font from elsewhere: a
// Content-Security-Policy of default-src 'none' lets the page load nothing at all.
import { formatAge, formatMs } from "../format.ts";
import type { DrillRunReport } from "./report.ts";

/** One report of the folder: its file name and what it holds (or why it could not be read). */
export interface DrillHistoryEntry {
  file: string;
  report?: DrillRunReport;
  error?: string;
}

/** One host in one drill: a point of the charts and a row of the host's table. */
export interface DrillPoint {
  drill: string;
  file: string;
  at: number;
  host: string;
  verdict: string;
  rto_ms: number | null;
  rpo_seconds: number | null;
  rto_target_ms: number | null;
  rpo_target_seconds: number | null;
  failures: string[];
}

const esc = (s: string) =>
  s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&#39;");

/** Every host of every readable report, oldest drill first. */
export function drillPoints(entries: readonly DrillHistoryEntry[]): DrillPoint[] {
  const points: DrillPoint[] = [];
  for (const e of entries) {
    const r = e.report;
    if (!r) continue;
    const at = Date.parse(r.started_at);
    for (const h of r.hosts ?? []) {
      const d = h.drill;
      const t = d?.targets;
      points.push({
        drill: r.started_at,
        file: e.file,
        at,
        host: h.name,
        verdict:
          h.status === "unreachable"
            ? "UNREACHABLE"
            : h.status === "ok" && d?.verdict === "PASSED"
              ? "PASSED"
              : "FAILED",
        rto_ms: d?.rto_ms_total ?? null,
        rpo_seconds: d?.rpo_seconds_max ?? null,
        rto_target_ms: t ? t.rto_minutes * 60_000 : null,
        rpo_target_seconds: t ? t.rpo_hours * 3600 : null,
        failures: (h.tasks ?? []).filter((x) => x.status === "failed").map((x) => `${x.name}: ${x.message}`),
      });
    }
  }
  return points.sort((a, b) => a.at - b.at || a.host.localeCompare(b.host));
}

const COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf"];

interface ChartSpec {
  title: string;
  unit: string;
  value: (p: DrillPoint) => number | null;
  target: (p: DrillPoint) => number | null;
  label: (v: number) => string;
}

/** An inline SVG chart: one circle per host per drill (data-host, data-drill), the targets dashed. */
export function chartSvg(points: readonly DrillPoint[], hosts: readonly string[], spec: ChartSpec): string {
  const W = 720;
  const H = 260;
  const L = 70;
  const R = 20;
  const T = 30;
  const B = 40;
  const pts = points.filter((p) => spec.value(p) !== null);
  const targets = [...new Set(points.map(spec.target).filter((x): x is number => x !== null))].sort((a, b) => a - b);
  const top = Math.max(1, ...pts.map((p) => spec.value(p)!), ...targets) * 1.1;
  const times = points.map((p) => p.at);
  const t0 = Math.min(...times);
  const t1 = Math.max(...times);
  // Points stay clear of the axis and of the right edge (their date labels fit).
  const x0 = L + 40;
  const x1 = W - R - 50;
  const x = (at: number) => (t1 === t0 ? (x0 + x1) / 2 : x0 + ((at - t0) / (t1 - t0)) * (x1 - x0));
  const y = (v: number) => T + (1 - v / top) * (H - T - B);
  const f = (n: number) => n.toFixed(1);
  const out: string[] = [];
  out.push(
    `<svg class="chart" data-chart="${esc(spec.unit)}" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${esc(spec.title)}">`,
    `<title>${esc(spec.title)}</title>`,
    `<text x="${L}" y="18" class="ct">${esc(spec.title)}</text>`,
    `<line x1="${L}" y1="${T}" x2="${L}" y2="${H - B}" stroke="#444"/>`,
    `<line x1="${L}" y1="${H - B}" x2="${W - R}" y2="${H - B}" stroke="#444"/>`,
  );
  for (let i = 0; i <= 4; i++) {
    const v = (top / 4) * i;
    out.push(
      `<text x="${L - 6}" y="${f(y(v) + 4)}" text-anchor="end" class="ax">${esc(spec.label(v))}</text>`,
      `<line x1="${L}" y1="${f(y(v))}" x2="${W - R}" y2="${f(y(v))}" stroke="#eee"/>`,
    );
  }
  const days = [...new Set(points.map((p) => p.drill))];
  for (const d of days.length > 6 ? [days[0]!, days[days.length - 1]!] : days) {
    const at = Date.parse(d);
    out.push(`<text x="${f(x(at))}" y="${H - B + 16}" text-anchor="middle" class="ax">${esc(d.slice(0, 10))}</text>`);
  }
  for (const t of targets)
    out.push(
      `<line class="target" data-target="${t}" x1="${L}" y1="${f(y(t))}" x2="${W - R}" y2="${f(y(t))}" stroke="#b00" stroke-dasharray="6 4"/>`,
      `<text x="${W - R}" y="${f(y(t) - 4)}" text-anchor="end" class="tg">target ${esc(spec.label(t))}</text>`,
    );
  for (const [i, host] of hosts.entries()) {
    const mine = pts.filter((p) => p.host === host);
    const color = COLORS[i % COLORS.length]!;
    if (mine.length > 1)
      out.push(
        `<polyline fill="none" stroke="${color}" stroke-width="1.5" points="${mine.map((p) => `${f(x(p.at))},${f(y(spec.value(p)!))}`).join(" ")}"/>`,
      );
    for (const p of mine) {
      const v = spec.value(p)!;
      const missed = spec.target(p) !== null && v > spec.target(p)!;
      out.push(
        `<circle data-host="${esc(host)}" data-drill="${esc(p.drill)}" data-value="${v}" cx="${f(x(p.at))}" cy="${f(y(v))}" r="5" fill="${missed ? "#fff" : color}" stroke="${color}" stroke-width="2"><title>${esc(`${host} ${p.drill}: ${spec.label(v)}${missed ? " (target missed)" : ""}`)}</title></circle>`,
      );
    }
  }
  hosts.forEach((host, i) => {
    const lx = L + 10 + i * 130;
    out.push(
      `<circle cx="${lx}" cy="${H - 8}" r="4" fill="${COLORS[i % COLORS.length]}"/><text x="${lx + 8}" y="${H - 4}" class="ax">${esc(host)}</text>`,
    );
  });
  out.push(`</svg>`);
  return out.join("\n");
}

const STYLE = `body{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:1100px}
table{border-collapse:collapse;margin:0.5em 0 1.5em}th,td{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f3f3f3}.PASSED{color:#0a0}.FAILED,.UNREACHABLE,.INCOMPLETE{color:#b00;font-weight:bold}
.ct{font-size:14px;font-weight:bold}.ax{font-size:11px;fill:#444}.tg{font-size:11px;fill:#b00}.small{font-size:0.85em;color:#555}`;

/** The page: history, a table per host, the RTO and RPO charts. */
export function drillIndexHtml(inventoryName: string, entries: readonly DrillHistoryEntry[]): string {
  const points = drillPoints(entries);
  const hosts = [...new Set(points.map((p) => p.host))].sort();
  const reports = entries
    .filter((e): e is DrillHistoryEntry & { report: DrillRunReport } => !!e.report)
    .sort((a, b) => Date.parse(a.report.started_at) - Date.parse(b.report.started_at));
  const H: string[] = [];
  H.push(
    "<!DOCTYPE html>",
    '<html lang="en"><head><meta charset="utf-8">',
    `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">`,
    `<title>Restore drills: ${esc(inventoryName)}</title>`,
    `<style>${STYLE}</style></head><body>`,
    `<h1>Restore drills: ${esc(inventoryName)}</h1>`,
  );
  const last = reports[reports.length - 1]?.report;
  H.push(
    last
      ? `<p>${reports.length} drill(s). Last: ${esc(last.started_at)}, <span class="${esc(last.drill.verdict)}">${esc(last.drill.verdict)}</span> (${last.drill.hosts_passed} of ${last.hosts.length} hosts passed).</p>`
      : "<p>No drill yet.</p>",
  );
  if (points.length) {
    H.push("<h2>RTO and RPO over time</h2>");
    H.push(
      chartSvg(points, hosts, {
        title: "RTO (recovery time, minutes)",
        unit: "rto",
        value: (p) => p.rto_ms,
        target: (p) => p.rto_target_ms,
        label: (v) => `${+(v / 60_000).toFixed(2)} min`,
      }),
      chartSvg(points, hosts, {
        title: "RPO (age of the restored backups, hours)",
        unit: "rpo",
        value: (p) => p.rpo_seconds,
        target: (p) => p.rpo_target_seconds,
        label: (v) => `${+(v / 3600).toFixed(2)} h`,
      }),
      `<p class="small">One point per host per drill; a hollow point missed its target (the dashed line).</p>`,
    );
  }
  H.push(
    "<h2>History</h2>",
    "<table><tr><th>Drill (UTC)</th><th>Verdict</th><th>Mode</th><th>Hosts passed</th><th>Worst RTO</th><th>Worst RPO</th><th>Report</th></tr>",
  );
  for (const { file, report: r } of [...reports].reverse()) {
    const d = r.drill;
    H.push(
      `<tr><td>${esc(r.started_at)}</td><td class="${esc(d.verdict)}">${esc(d.verdict)}</td>` +
        // Reports from before --live have no mode: they were scratch drills.
        `<td data-mode="${esc(d.mode ?? "scratch")}">${esc(d.mode ?? "scratch")}</td><td>${d.hosts_passed} of ${r.hosts.length}</td>` +
        `<td>${d.worst_rto ? `${esc(formatMs(d.worst_rto.ms))} (${esc(d.worst_rto.host)})` : "-"}</td>` +
        `<td>${d.worst_rpo ? `${esc(formatAge(d.worst_rpo.seconds))} (${esc(d.worst_rpo.host)})` : "-"}</td>` +
        `<td><a href="${esc(encodeURIComponent(file.replace(/\.json$/, ".md")))}">${esc(file.replace(/\.json$/, ".md"))}</a></td></tr>`,
    );
  }
  H.push("</table>");
  for (const host of hosts) {
    H.push(
      `<h2>${esc(host)}</h2>`,
      "<table><tr><th>Drill (UTC)</th><th>Verdict</th><th>RTO</th><th>RTO target</th><th>RPO</th><th>RPO target</th><th>Failed checks</th></tr>",
    );
    for (const p of points.filter((x) => x.host === host).reverse()) {
      H.push(
        `<tr data-host="${esc(host)}"><td>${esc(p.drill)}</td><td class="${esc(p.verdict)}">${esc(p.verdict)}</td>` +
          `<td>${esc(formatMs(p.rto_ms))}</td><td>${p.rto_target_ms === null ? "-" : `${p.rto_target_ms / 60_000} min`}</td>` +
          `<td>${esc(formatAge(p.rpo_seconds))}</td><td>${p.rpo_target_seconds === null ? "-" : `${p.rpo_target_seconds / 3600} h`}</td>` +
          `<td>${p.failures.length ? p.failures.map(esc).join("<br>") : "-"}</td></tr>`,
      );
    }
    H.push("</table>");
  }
  const bad = entries.filter((e) => e.error);
  if (bad.length)
    H.push("<h2>Unreadable reports</h2><ul>", ...bad.map((e) => `<li>${esc(e.file)}: ${esc(e.error!)}</li>`), "</ul>");
  H.push("</body></html>", "");
  return H.join("\n");
}
