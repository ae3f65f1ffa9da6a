// The restore run's result from restore-run.sh's lines (the reports are the installed scripts' as
// printed on a lab host), and the audit line's halves: the control machine's head completed as the
// script completes it is one JSON object.
import { describe, it, expect } from "vitest";
import { auditHead, auditLine, failureReason, parseRun, runScript, type AuditFields } from "../../src/restore/run.ts";
import type { RestorePlan } from "../../src/restore/plan.ts";
import type { Host } from "../../src/inventory/types.ts";
import { testVars } from "../helpers/vars.ts";

const b64 = (s: string) => Buffer.from(s).toString("base64");
const SUCCESS = `========================================
DATABASE RESTORE REPORT
========================================
Database: cepcomunicacion
Timestamp: 2026-12-01 14:25:00
Status: SUCCESS
----------------------------------------
Restored From: cepcomunicacion_2026-12-01_14-24-43.dump
Backup Size: 65KB
Pre-Restore Backup: /srv/lab1/var/backups/cepcomunicacion/database/pre-restore/pre-restore_cepcomunicacion_2026-12-01_14-24-59.dump
----------------------------------------
Verified: 16 tables and 580 rows match the manifest
========================================
`;
const FAILED = `========================================
MEDIA RESTORE REPORT
========================================
Target Directory: /srv/lab1/var/www/cepcomunicacion/uploads
Timestamp: 2026-12-01 14:26:00
Status: FAILED (exit 1): rsync failed with exit code 23
----------------------------------------
Restored From: 2026-12-01_14-24-45
Pre-Restore Backup: /srv/lab1/var/backups/cepcomunicacion/media/pre-restore/2026-12-01_14-25-59
Rollback: done: /srv/lab1/var/www/cepcomunicacion/uploads is as it was before the restore, from /srv/lab1/var/backups/cepcomunicacion/media/pre-restore/2026-12-01_14-25-59
========================================
`;

describe("restore run results", () => {
  it("a success: exit 0, RTO, the report, the pre-restore dump, the audit line written", () => {
    const r = parseRun(
      [
        "RUN|started_at|2026-12-01T14:24:59Z",
        "RUN|exit|0",
        "RUN|rto_ms|1312",
        `RUN|report_b64|${b64(SUCCESS)}`,
        `RUN|log_b64|${b64("")}`,
        "AUDIT|written|1",
      ].join("\n"),
    );
    expect(r).toMatchObject({
      exit_code: 0,
      rto_ms: 1312,
      status: "SUCCESS",
      rollback: null,
      pre_restore:
        "/srv/lab1/var/backups/cepcomunicacion/database/pre-restore/pre-restore_cepcomunicacion_2026-12-01_14-24-59.dump",
      audit: { written: true, error: null },
    });
    expect(r.report).toBe(SUCCESS);
  });

  it("a failure: its Status line is the reason, its Rollback line what was put back; an audit line not written says why", () => {
    const r = parseRun(
      [
        "RUN|exit|1",
        "RUN|rto_ms|900",
        `RUN|report_b64|${b64(FAILED)}`,
        "AUDIT|error|cannot append to /x/restore-audit.log: Permission denied",
      ].join("\n"),
    );
    expect(failureReason(r)).toBe("FAILED (exit 1): rsync failed with exit code 23");
    expect(r.rollback).toMatch(/^done: .* is as it was before the restore/);
    expect(r.audit).toEqual({ written: false, error: "cannot append to /x/restore-audit.log: Permission denied" });
  });

  it("no report (the script could not start): the last error of its log", () => {
    const log =
      "2026-12-01T14:00:00+0000 [INFO] [restore-config] start\n2026-12-01T14:00:01+0000 [ERROR] [restore-config] cannot read the config\n";
    const r = parseRun(["RUN|exit|78", `RUN|report_b64|`, `RUN|log_b64|${b64(log)}`].join("\n"));
    expect(failureReason(r)).toBe("cannot read the config");
  });

  it("audit lines are one JSON object each, completed or whole", () => {
    const a: AuditFields = {
      who: "ops",
      control_host: "ctl1",
      when: "2026-12-01T14:00:00.000Z",
      host: "web1",
      environment: "production",
      component: "database",
      backup: 'odd "name"',
      backup_time: null,
      from: "local",
      target: "cepcomunicacion",
      forced: true,
    };
    // The run says where the backup came from in the end: the plan said local, the run fell back.
    const done = JSON.parse(
      `${auditHead(a)}"from":"offsite","fallback":"the local copy failed its checksum","result":"success","exit_code":0,"duration_ms":5,"finished_at":"2026-12-01T14:00:05Z"}`,
    );
    expect(done).toEqual({
      ...a,
      from: "offsite",
      fallback: "the local copy failed its checksum",
      result: "success",
      exit_code: 0,
      duration_ms: 5,
      finished_at: "2026-12-01T14:00:05Z",
    });
    expect(auditHead(a)).not.toContain('"from"');
    expect(JSON.parse(auditLine(a, "cancelled", "wrong name"))).toMatchObject({
      from: "local",
      result: "cancelled",
      reason: "wrong name",
    });
  });
});

describe("runScript: the identity only for an encrypted backup", () => {
  const vars = testVars({ prefix: "/tmp/r", db: { port: 5432, password: "pw" } });
  vars.encryption = { recipients: ["age1" + "q".repeat(58)], scope: ["database"], identity: "AGE-SECRET-KEY-1TEST" };
  const host = { name: "h1", vars } as unknown as Host;
  const plan = (path: string, component = "database", from = "local", fallback = false) =>
    ({
      component,
      backup: { path, name: path.split("/").pop(), kind: component },
      target: {},
      source: { from, why: "", fallback },
    }) as unknown as RestorePlan;

  it("an .age dump: AGE_IDENTITY is in the script's values (on the SSH stdin), handed on by with_identity", () => {
    const s = runScript(host, plan("/b/database/cep_2026-01-01_02-00-00.dump.age"), "{");
    expect(s).toMatch(/^AGE_IDENTITY='?AGE-SECRET-KEY-1TEST'?$/m);
    expect(s).toContain('with_identity as_root_clean "${args[@]}"');
  });

  it("a plain dump: no identity is sent", () => {
    expect(runScript(host, plan("/b/database/cep_2026-01-01_02-00-00.dump"), "{")).toMatch(/^AGE_IDENTITY=(''|"")?$/m);
    expect(runScript(host, plan("/b/database/cep_2026-01-01_02-00-00.dump", "database", "offsite"), "{")).toMatch(
      /^AGE_IDENTITY=(''|"")?$/m,
    );
  });

  it("media: the identity only when the snapshot may be rebuilt from the bucket (its objects may be encrypted there)", () => {
    const snap = "/b/media/2026-01-01_02-00-00";
    expect(runScript(host, plan(snap, "media"), "{")).toMatch(/^AGE_IDENTITY=(''|"")?$/m);
    expect(runScript(host, plan(snap, "media", "offsite"), "{")).toMatch(/^AGE_IDENTITY='?AGE-SECRET-KEY-1TEST'?$/m);
    expect(runScript(host, plan(snap, "media", "local", true), "{")).toMatch(
      /^AGE_IDENTITY='?AGE-SECRET-KEY-1TEST'?$/m,
    );
    const s = runScript(host, plan(snap, "media", "offsite"), "{");
    expect(s).toMatch(/^FROM='?offsite'?$/m);
    expect(s).toMatch(/^BACKUP_KIND='?media'?$/m);
    expect(s).toContain('with_identity as_cron "$SCRIPTS/fetch-offsite.sh"');
  });
});
