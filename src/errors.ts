// Typed errors: deep code throws these; only a playbook turns them into an exit code.

/** Bad input (inventory, vars, arguments): exit 1, nothing touched. Carries every problem found. */
export class InputError extends Error {
  constructor(public readonly problems: string[]) {
    super(problems.join("\n"));
    this.name = "InputError";
  }
}

/** A host could not be reached (connect refused, timeout, DNS): counts as unreachable (exit 4). */
export class UnreachableError extends Error {
  override name = "UnreachableError";
}

/**
 * The host's key is unknown (without --accept-new-host-keys): the host was not reached (exit 4, as
 * Ansible counts it); or it changed or is revoked: the host fails (exit 2).
 */
export class HostKeyError extends Error {
  override name = "HostKeyError";
  constructor(
    message: string,
    /** No key is recorded for the host (the operator has to accept one), rather than a wrong key. */
    readonly unknown = false,
  ) {
    super(message);
  }
}

/** A remote command failed in a way that fails the host (exit 2). */
export class HostFailure extends Error {
  override name = "HostFailure";
}

export const EXIT = { ok: 0, badInput: 1, failed: 2, unreachable: 4 } as const;
