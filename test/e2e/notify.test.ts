// Issue 11, finding 14, end to end on the lab: one healthcheck per job, and the smoke test never
// pings the live checks nor posts to the live channels, whether it passes or fails. The receivers
// are real: an HTTP server for the healthchecks and webhooks, an SMTP server for the mail; the
// same jobs run by hand (as cron would) reach every one of them.
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { renameSync } from "node:fs";
import { execa } from "execa";
import { startTestLab, cli, type TestLab } from "../helpers/lab.ts";
import { startReceiver } from "../scripts/backup-harness.ts";
import { startSmtpServer, type SmtpServer } from "../helpers/smtp.ts";

let lab: TestLab;
let rx: Awaited<ReturnType<typeof startReceiver>>;
let smtp: SmtpServer;
let inv: string;

beforeAll(async () => {
  rx = await startReceiver();
  smtp = await startSmtpServer({ user: "-", password: "-", mode: "open" });
  lab = await startTestLab(1);
  const base = lab.inventory();
  base.vars.alerts = {
    email: "ops@example.com",
    smtp: { url: smtp.url, from: "backups@example.com" },
    slack_webhook: `${rx.url}/slack/T0/B0/token`,
    discord_webhook: `${rx.url}/discord/1/token`,
    healthcheck_url: `${rx.url}/hc/check`,
    healthchecks: {
      database: `${rx.url}/hc/database`,
      weekly: `${rx.url}/hc/weekly`,
      media: `${rx.url}/hc/media`,
      config: `${rx.url}/hc/config`,
    },
  };
  inv = lab.writeInventory("notify.yml", base);
});
afterAll(async () => {
  await Promise.all([lab?.down(), rx?.close(), smtp?.stop()]);
});

const paths = () => rx.received.map((x) => x.url.replace(/\?.*/, ""));

/** An installed script run on the lab host as cron runs it (clean environment, cron's PATH). */
const asCron = (script: string) =>
  execa(`${lab.state.hosts[0]!.prefix}/infra/backup/scripts/${script}`, [], {
    reject: false,
    env: { PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", HOME: "/root" },
    extendEnv: false,
    stdin: "ignore",
  });

describe("the smoke test and the live checks and channels", () => {
  it("a passing smoke test pings no healthcheck, posts to no channel and sends no mail", async () => {
    const r = await cli("provision", [inv]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const smoke = r.report.hosts[0].smoke;
    for (const c of ["database", "config", "media", "check"]) expect(smoke[c].status, c).toBe("passed");
    expect(paths()).toEqual([]);
    expect(smtp.mails()).toEqual([]);
  });

  it("a failing smoke test (media source missing) fails the host and still notifies nobody", async () => {
    const uploads = `${lab.state.hosts[0]!.prefix}/var/www/cepcomunicacion/uploads`;
    renameSync(uploads, `${uploads}.away`);
    try {
      const r = await cli("provision", [inv, "--tags", "smoke"]);
      expect(r.code).toBe(2);
      expect(r.report.hosts[0].smoke.media.status).toBe("failed");
      expect(paths()).toEqual([]);
      expect(smtp.mails()).toEqual([]);

      // The same failure in a scheduled run reaches every channel and the media job's own check.
      const cron = await asCron("backup-media.sh");
      expect(cron.exitCode).not.toBe(0);
      expect(paths().sort()).toEqual(["/discord/1/token", "/hc/media/fail", "/hc/media/start", "/slack/T0/B0/token"]);
      expect(smtp.mails().map((m) => m.subject.replace(/ \(.*/, ""))).toEqual([
        "[cepcomunicacion] BACKUP ALERT: backup-media failed",
      ]);
    } finally {
      renameSync(`${uploads}.away`, uploads);
    }
  });

  it("scheduled runs ping their own check: database, config and the check job (HEALTHCHECK_URL)", async () => {
    rx.received.length = 0;
    for (const s of ["backup-database.sh", "backup-config.sh", "backup-media.sh", "check-backups.sh"])
      expect((await asCron(s)).exitCode, s).toBe(0);
    const hc = paths().filter((p) => p.startsWith("/hc/"));
    expect(hc).toEqual([
      "/hc/database/start",
      "/hc/database",
      "/hc/config/start",
      "/hc/config",
      "/hc/media/start",
      "/hc/media",
      "/hc/check/start",
      "/hc/check",
    ]);
    // backup-media had failed: its success sends one "recovered" message to each channel.
    expect(
      paths()
        .filter((p) => !p.startsWith("/hc/"))
        .sort(),
    ).toEqual(["/discord/1/token", "/slack/T0/B0/token"]);
  });

  it("alerts.email without alerts.smtp is bad input: exit 1 naming the key, no host contacted", async () => {
    const base = lab.inventory();
    base.vars.alerts = { email: "ops@example.com" };
    const r = await cli("provision", [lab.writeInventory("nomail.yml", base)]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /nomail\.yml: vars\.alerts\.email: expected alerts\.smtp\.url and alerts\.smtp\.from to be set/,
    );
  });
});
