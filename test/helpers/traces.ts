// Where a secret could have been left behind by a run: files under /tmp written since `marker`
// (a file touched before the secret existed). One search for every test that proves "no trace".
import { execa } from "execa";

/** The files of /tmp newer than `marker` that contain `text`, one path per line ("" when none). */
export async function tmpFilesHolding(marker: string, text: string): Promise<string> {
  const r = await execa(
    "bash",
    [
      "-c",
      'find /tmp -xdev -type f -newer "$1" -print0 2>/dev/null | xargs -0 -r grep -lsF -e "$2" --',
      "-",
      marker,
      text,
    ],
    { reject: false, timeout: 60_000 },
  );
  return r.stdout;
}
