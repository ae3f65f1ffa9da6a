// What a lab host's CPU per host is made of on a no-op (pure): the N-host no-op's host CPU over N,
// split by the parts measured on lab1 on their own. `ssh host true` is one sshd session plus the
// login shell with root's ~/.bashrc; the bashrc case is that shell alone (bash sourcing ~/.bashrc,
// timed locally); what the no-op spends per host beyond `ssh host true` is the remote script (the
// bootstrap and the one facts command).
import { med, noopKey, type Cases } from "./results.ts";

export interface HostCpuParts {
  /** The N-host no-op's host CPU / N. */
  per_host_ms: number;
  /** `ssh host true`'s host CPU less the shell's. */
  sshd_ms: number;
  /** bash with root's ~/.bashrc (the bashrc case's CPU). */
  shell_ms: number;
  /** per_host_ms less `ssh host true`'s host CPU. */
  script_ms: number;
  hosts: number;
}

/** undefined when a part was not measured. */
export function hostCpuParts(cases: Cases, hosts: number): HostCpuParts | undefined {
  const per = med(cases, noopKey(hosts), "host_cpu_ms") / hosts;
  const ssh = med(cases, "ssh_true", "host_cpu_ms");
  const shell = med(cases, "bashrc", "cpu_ms");
  if (![per, ssh, shell].every(Number.isFinite)) return undefined;
  return { per_host_ms: per, sshd_ms: ssh - shell, shell_ms: shell, script_ms: per - ssh, hosts };
}
