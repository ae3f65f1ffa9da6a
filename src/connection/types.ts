// The one interface through which the provisioner talks to a host.

export interface ExecResult {
  /** Exit code of the script; 128+N when it was killed by signal N. */
  code: number;
  stdout: string;
  stderr: string;
  durationMs: number;
}

export interface ExecOptions {
  /** Kill the command after this long (default: the host's command_timeout_s). */
  timeoutMs?: number;
  /** Run through `sudo -n` (default: the host's `become`). Ignored when connected as root. */
  sudo?: boolean;
}

export interface Connection {
  /** The inventory name of the host. */
  readonly host: string;
  /** Remote commands run so far (every exec counts, including failed ones). */
  readonly commands: number;
  /**
   * Run a bash script on the host. The script travels on the command's STDIN (never on a command
   * line, so no secret or payload shows in `ps`), is parsed whole before anything runs (a script
   * cut short in transit runs not at all), and runs with LC_ALL=C and stdin at /dev/null.
   * A non-zero exit is a result, not an error; throws HostFailure on timeout, a lost connection
   * or a sudo that wants a password.
   */
  exec(script: string, opts?: ExecOptions): Promise<ExecResult>;
  close(): Promise<void>;
}

/** A jump host (OpenSSH's ProxyJump): reached in turn, each with its own host-key check. */
export interface JumpHost {
  host: string;
  port: number;
  user: string;
}

/** Where and how to reach a host: the inventory's `ssh` block once defaults, ssh_config and jumps are resolved. */
export interface SshTarget {
  host: string;
  port: number;
  user: string;
  /** Path to a private key (absolute); without it the SSH agent (SSH_AUTH_SOCK). Every hop uses the same. */
  private_key?: string;
  /** Run every remote command through `sudo -n`. */
  become: boolean;
  connect_timeout_s: number;
  command_timeout_s: number;
  /** Jump hosts, the first one first; empty or missing: a direct connection. */
  jump?: JumpHost[];
}
