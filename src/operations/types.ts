// What an operation returns: pure planning output. `changed` with the shell that makes it so, or
// not changed with the reason nothing was needed (pyinfra's noop message).
import type { Tag } from "../backup/desired.ts";

export interface Planned {
  /** Stable id, used to tell which step of the apply script failed. */
  id: string;
  /** Human name for the recap and the report's tasks[]. */
  name: string;
  tags: Tag[];
  changed: boolean;
  /** What it will do, or why it does nothing. */
  reason: string;
  /** Shell lines applying the change (empty when unchanged). */
  script: string;
  /** Unified diff (secrets masked), for --diff. */
  diff?: string;
  /** Bytes this change uploads. */
  bytes?: number;
  /** A planning error: the host fails with this message, nothing is applied. */
  error?: string;
}

export const modeString = (m: number): string => `0${(m & 0o7777).toString(8).padStart(3, "0")}`;
