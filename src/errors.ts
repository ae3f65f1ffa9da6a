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

/** The host's key is unknown (without --accept-new-host-keys) or changed: the host fails. */
export class HostKeyError extends Error {
  override name = "HostKeyError";
}

/** A remote command failed in a way that fails the host (exit 2). */
export class HostFailure extends Error {
  override name = "HostFailure";
}

export const EXIT = { ok: 0, badInput: 1, failed: 2, unreachable: 4 } as const;
