// The alerts library for real: mail through a real SMTP server on loopback (aiosmtpd with TLS and
// AUTH), the process list sampled while curl sends it, the failure count of a job with escalation
// and its one "recovered" message, and notifications switched off (the smoke test's mode).
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { execa } from "execa";
import { startLab, seedDatabase, startReceiver, DB_PASSWORD, type Lab, type Received } from "./backup-harness.ts";
import { startSmtpServer, type SmtpServer } from "../helpers/smtp.ts";
import { freePort } from "../helpers/ports.ts";
import type { ResolvedVars } from "../../src/inventory/types.ts";

const SMTP_USER = "backups@example.com";
// Shell and curl-config metacharacters: it must reach the server intact and appear nowhere else.
const SMTP_PASSWORD = `Sm7p"pa$$ w0rd\\'x`;

let lab: Lab;
let goodPort: number;
let badPort: number;

beforeAll(async () => {
  lab = await startLab("alerts");
  await seedDatabase(lab);
  goodPort = lab.vars.database.port;
  badPort = await freePort();
});
afterAll(async () => {
  await lab?.teardown();
});

/** Install with these alerts; `failing` points the jobs at a port where no database listens. */
function install(alerts: ResolvedVars["alerts"], failing: boolean): void {
  lab.install((v) => {
    v.alerts = alerts;
    v.database = { ...v.database, port: failing ? badPort : goodPort };
  });
}

const mailAlerts = (smtp: SmtpServer): ResolvedVars["alerts"] => ({
  email: "ops@example.com",
  smtp: { url: smtp.url, user: SMTP_USER, password: SMTP_PASSWORD, from: "backups@example.com" },
});

/** `ps` while `run` lasts: every sample's full command lines. */
async function sampleProcesses<T>(run: Promise<T>): Promise<{ result: T; samples: string[] }> {
  const samples: string[] = [];
  let done = false;
  const sampler = (async () => {
    while (!done) {
      samples.push((await execa("ps", ["-eww", "-o", "pid=,args="], { reject: false })).stdout);
      await new Promise((r) => setTimeout(r, 25));
    }
  })();
  const result = await run;
  done = true;
  await sampler;
  return { result, samples };
}

describe("email over SMTP (curl, no local mail server)", () => {
  it("a failing backup delivers ONE mail with the spec's subject over STARTTLS + AUTH; no password in ps samples", async () => {
    const smtp = await startSmtpServer({ user: SMTP_USER, password: SMTP_PASSWORD, delayMs: 1500 });
    try {
      install(mailAlerts(smtp), true);
      const { result: r, samples } = await sampleProcesses(
        lab.run("backup-database.sh", [], { CURL_CA_BUNDLE: smtp.caFile }),
      );
      expect(r.exitCode).not.toBe(0);
      const mails = smtp.mails();
      expect(mails).toHaveLength(1);
      const m = mails[0]!;
      // The spec's "Alert Types": [<app>] BACKUP ALERT: ... (the app name from backup.conf).
      expect(m.subject).toMatch(/^\[cepcomunicacion\] BACKUP ALERT: backup-database failed \(.+, lab\)$/);
      expect(m.tls).toBe(true);
      expect(m.auth_user).toBe(SMTP_USER);
      expect(m.mail_from).toBe("backups@example.com");
      expect(m.rcpt_tos).toEqual(["ops@example.com"]);
      expect(m.content).toMatch(/^From: cepcomunicacion backups <backups@example\.com>\r$/m);
      expect(m.content).toMatch(/^To: <ops@example\.com>\r$/m);
      expect(m.content).toMatch(/^Content-Type: text\/plain; charset=UTF-8\r$/m);
      expect(m.content).toMatch(/cannot connect to PostgreSQL/);
      expect(m.content).toMatch(/It has failed once/);
      // The sampler ran while curl talked to the server (the server holds DATA for 1.5 s)...
      expect(samples.some((s) => /\bcurl --config -/.test(s))).toBe(true);
      expect(samples.length).toBeGreaterThan(10);
      // ... and no command line ever held the password (nor the database's).
      for (const s of samples) {
        expect(s).not.toContain(SMTP_PASSWORD);
        expect(s).not.toContain("Sm7p");
        expect(s).not.toContain(DB_PASSWORD);
      }
      const log = readFileSync(join(lab.vars.paths.log_dir, "backup-database.log"), "utf8");
      expect(log + r.stderr + r.stdout).not.toContain("Sm7p");
      expect(log).not.toMatch(/email alert .* failed/);
    } finally {
      await smtp.stop();
    }
  });

  it("smtps:// (TLS from the first byte) delivers too", async () => {
    const smtp = await startSmtpServer({ user: SMTP_USER, password: SMTP_PASSWORD, mode: "smtps" });
    try {
      install(mailAlerts(smtp), true);
      const r = await lab.run("backup-database.sh", [], { CURL_CA_BUNDLE: smtp.caFile });
      expect(r.exitCode).not.toBe(0);
      expect(smtp.mails().map((m) => [m.tls, m.auth_user, m.subject.replace(/ \(.*/, "")])).toEqual([
        [true, SMTP_USER, "[cepcomunicacion] BACKUP ALERT: backup-database failed 2 times in a row"],
      ]);
    } finally {
      await smtp.stop();
    }
  });

  it("smtp:// to a server without STARTTLS: the password is never sent in clear (no AUTH attempt), the failure is logged", async () => {
    const smtp = await startSmtpServer({ user: SMTP_USER, password: SMTP_PASSWORD, mode: "plain" });
    try {
      install(mailAlerts(smtp), true);
      const r = await lab.run("backup-database.sh");
      expect(r.exitCode).not.toBe(0);
      expect(smtp.mails()).toEqual([]);
      expect(smtp.authAttempts()).toEqual([]);
      expect(r.stderr).toMatch(
        /email alert to ops@example\.com via smtp:\/\/127\.0\.0\.1:\d+ failed \(curl exit \d+\)/,
      );
      expect(r.stderr).not.toContain("Sm7p");
    } finally {
      await smtp.stop();
    }
  });
});

describe("consecutive failures: escalation and one recovered message", () => {
  it("escalate_after 3: two WARNING alerts, ONE escalated CRITICAL, then ONE recovered; the count lives in the state dir", async () => {
    // Start from a clean count (the mail tests above failed this job too).
    const failures = join(lab.vars.paths.state_dir, "backup-database.failures");
    await execa("rm", ["-f", failures]);
    const rx = await startReceiver();
    const smtp = await startSmtpServer({ user: SMTP_USER, password: SMTP_PASSWORD });
    const env = { CURL_CA_BUNDLE: smtp.caFile };
    const alerts = (failing: boolean) =>
      install(
        {
          ...mailAlerts(smtp),
          slack_webhook: `${rx.url}/slack`,
          healthchecks: { database: `${rx.url}/hc/db` },
          escalate_after: 3,
        },
        failing,
      );
    const slack = () =>
      rx.received
        .filter((x: Received) => x.url === "/slack")
        .map((x) => JSON.parse(x.body) as { text: string; attachments: { color: string }[] });
    try {
      alerts(true);
      for (let i = 1; i <= 3; i++) {
        const r = await lab.run("backup-database.sh", [], env);
        expect(r.exitCode).not.toBe(0);
        expect(readFileSync(failures, "utf8")).toMatch(new RegExp(`^count=${i}$`, "m"));
      }
      const texts = slack().map((s) => s.text.replace(/ \([^()]*, lab\)$/, ""));
      expect(texts).toEqual([
        "[cepcomunicacion] BACKUP WARNING: backup-database failed (CRITICAL from 3 in a row)",
        "[cepcomunicacion] BACKUP WARNING: backup-database failed 2 times in a row (CRITICAL from 3 in a row)",
        "[cepcomunicacion] BACKUP ALERT: backup-database failed 3 times in a row (escalated: 3 or more in a row)",
      ]);
      expect(slack().filter((s) => s.text.includes("BACKUP ALERT"))).toHaveLength(1);
      expect(slack().map((s) => s.attachments[0]!.color)).toEqual(["#e8a317", "#e8a317", "#e01e5a"]);
      // Every failure still pings /fail of the job's own check.
      expect(rx.received.filter((x) => x.url.startsWith("/hc/db/fail"))).toHaveLength(3);
      expect(smtp.mails().map((m) => m.subject.replace(/ \([^()]*, lab\)$/, ""))).toEqual(texts);
      expect(readFileSync(failures, "utf8")).toMatch(/^first_failure=\d{4}-\d{2}-\d{2}T/m);

      // The next success: one "recovered" message (mail and Slack), the count gone.
      rx.received.length = 0;
      alerts(false);
      const ok = await lab.run("backup-database.sh", [], env);
      expect(ok.exitCode, ok.stderr).toBe(0);
      expect(slack().map((s) => s.text.replace(/ \([^()]*, lab\)$/, ""))).toEqual([
        "[cepcomunicacion] BACKUP OK: backup-database recovered",
      ]);
      expect(JSON.stringify(slack()[0])).toMatch(/after 3 consecutive failure/);
      expect(existsSync(failures)).toBe(false);
      expect(smtp.mails()).toHaveLength(4);
      expect(smtp.mails()[3]!.subject).toMatch(/^\[cepcomunicacion\] BACKUP OK: backup-database recovered/);

      // And the one after that sends nothing (pings only).
      rx.received.length = 0;
      const again = await lab.run("backup-database.sh", [], env);
      expect(again.exitCode).toBe(0);
      expect(slack()).toEqual([]);
      expect(rx.received.map((x) => x.url.replace(/\?.*/, ""))).toEqual(["/hc/db/start", "/hc/db"]);
      expect(smtp.mails()).toHaveLength(4);
    } finally {
      await rx.close();
      await smtp.stop();
    }
  });

  it("without escalate_after every failure is CRITICAL, with the count in its subject", async () => {
    const rx = await startReceiver();
    try {
      install({ slack_webhook: `${rx.url}/slack` }, true);
      await lab.run("backup-database.sh");
      await lab.run("backup-database.sh");
      const texts = rx.received.map((x) => (JSON.parse(x.body) as { text: string }).text.replace(/ \(.*/, ""));
      expect(texts).toEqual([
        "[cepcomunicacion] BACKUP ALERT: backup-database failed",
        "[cepcomunicacion] BACKUP ALERT: backup-database failed 2 times in a row",
      ]);
    } finally {
      install({}, false);
      await execa("rm", ["-f", join(lab.vars.paths.state_dir, "backup-database.failures")]);
      await rx.close();
    }
  });
});

describe("BACKUP_NOTIFY=off (how the smoke test runs the jobs)", () => {
  it("a failing run sends no mail, posts nothing, pings nothing and leaves the failure count alone", async () => {
    const rx = await startReceiver();
    const smtp = await startSmtpServer({ user: SMTP_USER, password: SMTP_PASSWORD });
    const failures = join(lab.vars.paths.state_dir, "backup-database.failures");
    try {
      install(
        {
          ...mailAlerts(smtp),
          slack_webhook: `${rx.url}/slack`,
          discord_webhook: `${rx.url}/discord`,
          healthchecks: { database: `${rx.url}/hc/db` },
        },
        true,
      );
      const r = await lab.run("backup-database.sh", [], { CURL_CA_BUNDLE: smtp.caFile, BACKUP_NOTIFY: "off" });
      expect(r.exitCode).not.toBe(0);
      expect(r.stderr).toMatch(
        /notifications are off for this run \(BACKUP_NOTIFY=off\): not sent: \[cepcomunicacion\] BACKUP ALERT/,
      );
      expect(rx.received).toEqual([]);
      expect(smtp.mails()).toEqual([]);
      expect(existsSync(failures)).toBe(false);
      // The same run with notifications on reaches all of them (the receivers work).
      const on = await lab.run("backup-database.sh", [], { CURL_CA_BUNDLE: smtp.caFile });
      expect(on.exitCode).not.toBe(0);
      expect(rx.received.map((x) => x.url.replace(/\?.*/, "")).sort()).toEqual(
        ["/discord", "/hc/db/fail", "/hc/db/start", "/slack"].sort(),
      );
      expect(smtp.mails()).toHaveLength(1);
    } finally {
      install({}, false);
      await execa("rm", ["-f", failures]);
      await rx.close();
      await smtp.stop();
    }
  });
});
