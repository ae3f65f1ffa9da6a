// Connecting to an inventory's hosts the one way every playbook does it (the inventory's
// known_hosts, --accept-new-host-keys), and the frame of a one-connection host job: connect (an
// unreachable host or a bad host key is reported, not thrown), run, close, count commands and time.
import type { Connection } from "../connection/types.ts";
import type { Host, Inventory } from "../inventory/types.ts";
import { connect } from "../connection/ssh.ts";
import { HostKeyError, UnreachableError } from "../errors.ts";
import { maskSecrets } from "../operations/mask.ts";
import { settleStatus, type HostReport } from "./report.ts";

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
 * Run `work` on one host over one connection and return its report. Unreachable → status
 * `unreachable`; a host-key problem or any error from `work` → `failed` with the (masked) message.
 * The status is settled from the tasks `work` added; the connection is always closed.
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
      report.status = e instanceof UnreachableError ? "unreachable" : "failed";
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
    await conn?.close().catch(() => undefined);
  }
  return report;
}
