// The table of contents of a pg_dump custom-format archive (-Fc), read the way pg_restore reads it
// (pg_backup_archiver.c ReadHead/ReadToc, pg_backup_custom.c _ReadExtraToc), for the one thing
// `pg_restore -l` does not show: whether each entry's data offset was written. pg_dump -f FILE
// goes back at the end and writes them; a dump written to a pipe cannot, and pg_restore -j must
// then scan the file for each table's data. Archive versions 1.14 to 1.16 (PostgreSQL 12 to 17).
import { readFileSync } from "node:fs";

/** K_OFFSET_POS_NOT_SET, K_OFFSET_POS_SET, K_OFFSET_NO_DATA. */
export type DataOffset = "not-set" | "set" | "no-data";

export interface TocEntry {
  dumpId: number;
  desc: string;
  tag: string;
  offset: DataOffset;
}

const OFFSET: Record<number, DataOffset> = { 1: "not-set", 2: "set", 3: "no-data" };

export function readCustomToc(file: string): { version: string; entries: TocEntry[] } {
  const b = readFileSync(file);
  let p = 0;
  const byte = () => {
    if (p >= b.length) throw new Error(`${file}: ends inside its table of contents`);
    return b[p++]!;
  };
  if (b.subarray(0, 5).toString("latin1") !== "PGDMP") throw new Error(`${file}: not a custom-format archive`);
  p = 5;
  const [vmaj, vmin, vrev] = [byte(), byte(), byte()];
  const v = (vmaj * 256 + vmin) * 256 + vrev;
  const V = (min: number) => v >= (1 * 256 + min) * 256;
  if (!V(14) || V(17)) throw new Error(`${file}: archive version ${vmaj}.${vmin}.${vrev} not handled`);
  const intSize = byte();
  const offSize = byte();
  byte(); // format
  // ReadInt: a sign byte, then intSize bytes, little-endian.
  const int = () => {
    const sign = byte();
    let n = 0;
    for (let i = 0; i < intSize; i++) n += byte() * 2 ** (8 * i);
    return sign ? -n : n;
  };
  // ReadStr: a length (-1: NULL), then the bytes.
  const str = (): string | null => {
    const len = int();
    if (len < 0) return null;
    const s = b.subarray(p, p + len).toString("utf8");
    p += len;
    return s;
  };
  if (V(15))
    byte(); // compression algorithm
  else int(); // compression level
  for (let i = 0; i < 7; i++) int(); // creation time
  str(); // database name
  str(); // server version
  str(); // pg_dump version
  const count = int();
  const entries: TocEntry[] = [];
  for (let i = 0; i < count; i++) {
    const dumpId = int();
    int(); // hadDumper
    str(); // table oid
    str(); // oid
    const tag = str() ?? "";
    const desc = str() ?? "";
    int(); // section
    for (const _ of ["defn", "dropStmt", "copyStmt", "namespace", "tablespace", "tableam"]) str();
    if (V(16)) int(); // relkind
    str(); // owner
    str(); // "false": WITH OIDS
    while (str() !== null); // dependencies
    const flag = byte();
    p += offSize;
    const offset = OFFSET[flag];
    if (!offset) throw new Error(`${file}: entry ${dumpId} (${desc} ${tag}) has data offset flag ${flag}`);
    entries.push({ dumpId, desc, tag, offset });
  }
  return { version: `${vmaj}.${vmin}.${vrev}`, entries };
}
