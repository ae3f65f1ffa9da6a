// Connecting to an inventory's hosts the one way every playbook does it (the inventory's
// known_hosts, --accept-new-host-keys), and the frame of a one-connection host job: connect (an
// unreachable host or a bad host key is reported, not thrown), run, close, count commands and time.
import { readFileSync } from "node:fs";
import { showPath } from "../inventory/load.ts";
import ssh2 from "ssh2"; // CJS: named value imports fail under plain Node ESM
import type { Connection } from "../connection/types.ts";
import type { Host, Inventory } from "../inventory/types.ts";
import { connect } from "../connection/ssh.ts";
import { HostKeyError, UnreachableError } from "../errors.ts";
import { maskSecrets } from "../operations/mask.ts";
import { addTask, settleStatus, type HostReport } from "./report.ts";

export type Connector = (host: Host) => Promise<Connection>;

/** Jobs that back up and restore real data (smoke test, drill) get at least this long. */
export const LONG_JOB_MIN_TIMEOUT_MS = 4 * 3600_000;

/** The timeout of such a job on a host: its command timeout, but never under the floor above. */
export const longJobTimeoutMs = (host: Host): number =>
  Math.max(host.ssh.command_timeout_s * 1000, LONG_JOB_MIN_TIMEOUT_MS);

/**
 * A connector for the hosts of `inv`: host keys (the jump hosts' too) checked against its
 * known_hosts file, or the one a host's ssh_config names when the inventory sets none.
 */
export function hostConnector(inv: Pick<Inventory, "knownHostsFile">, opts: { acceptNewHostKeys: boolean }): Connector {
  return (host) =>
    connect({
      name: host.name,
      ssh: host.ssh,
      knownHostsFile: host.knownHostsFile ?? inv.knownHostsFile,
      acceptNewHostKeys: opts.acceptNewHostKeys,
    });
}

/**
 * The private keys of `hosts` that cannot be read or used, as "file: hosts.x.ssh.private_key: why"
 * problems: a local mistake is bad input (exit 1) before any host is contacted, not a failed host.
 */
export function privateKeyProblems(hosts: Host[], inventoryFile: string, cwd: string): string[] {
  const shown = showPath(inventoryFile, cwd);
  const problems: string[] = [];
  const seen = new Map<string, string | undefined>();
  for (const h of hosts) {
    const key = h.ssh.private_key;
    if (key === undefined) continue;
    if (!seen.has(key)) seen.set(key, keyProblem(key));
    const why = seen.get(key);
    if (why) problems.push(`${shown}: hosts.${h.name}.ssh.private_key: ${why}`);
  }
  return problems;
}

function keyProblem(file: string): string | undefined {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === "ENOENT" ? "no such file" : code === "EACCES" ? "permission denied" : (e as Error).message;
    return `cannot read ${file}: ${why}`;
  }
  const parsed = ssh2.utils.parseKey(text);
  if (parsed instanceof Error)
    return (
      `cannot use ${file}: ${parsed.message}` +
      (/passphrase/i.test(parsed.message)
        ? " (load an encrypted key into the SSH agent and leave private_key unset)"
        : "")
    );
  return undefined;
}

/**
 * Run `work` on one host over one connection and return its report. Unreachable, or a host key
 * not recorded yet → status `unreachable`; a changed or revoked key or any error from `work` →
 * `failed` with the (masked) message, counted as a failed task. The status is settled from the
 * tasks `work` added; the connection is always closed.
 */
export async function onHost<R extends HostReport>(
  host: Host,
  connector: Connector,
  secrets: readonly string[],
  report: R,
  work: (conn: Connection, report: R) => Promise<void>,
): Promise<R> {
  const started = Date.now();
  const mask = (s: string) => maskSecrets(s, [...secrets]);
  let conn: Connection | undefined;
  try {
    try {
      conn = await connector(host);
    } catch (e) {
      const notReached = e instanceof UnreachableError || (e instanceof HostKeyError && e.unknown);
      report.status = notReached ? "unreachable" : "failed";
      const known = e instanceof UnreachableError || e instanceof HostKeyError;
      report.error = mask(known ? (e as Error).message : `connect failed: ${(e as Error).message}`);
      return report;
    }
    await work(conn, report);
    report.status = settleStatus(report);
  } catch (e) {
    report.error = mask((e as Error).message);
    report.status = "failed";
  } finally {
    report.commands = conn?.commands ?? 0;
    report.duration_ms = Date.now() - started;
    report.status = settleStatus(report);
    // A host that failed without a failed task (it could not connect, or its work stopped with
    // an error) still counts one: the recap and --json never say failed=0 for a failed host.
    if (report.status === "failed" && report.failed === 0)
      addTask(report, { name: conn ? "host" : "connect", status: "failed", message: report.error ?? "failed" });
    await conn?.close().catch(() => undefined);
  }
  return report;
}
