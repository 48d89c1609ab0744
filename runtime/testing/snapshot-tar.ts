/**
 * Reads the snapshot (the uncompressed ustar PGlite's dumpDataDir writes) into the entries the
 * data directory is filled with: each file's bytes are a view into `bytes`, not a copy. Every
 * header's checksum is checked and the archive must end where tar ends one, so a truncated or
 * overwritten snapshot is an error here, not a PostgreSQL that fails to start.
 */
import type { DataDirEntry } from "../dev/prefilled-memory-fs.ts";
import { FerryError } from "../errors.ts";

const block = 512;
const latin1 = new TextDecoder("latin1");

export class SnapshotDamagedError extends FerryError {
  override name = "SnapshotDamagedError";
  constructor(reason: string) {
    super(`the snapshot is damaged: ${reason}`, { code: "snapshot-damaged", retriable: false });
  }
}

export function readSnapshotTar(bytes: Uint8Array): DataDirEntry[] {
  const entries: DataDirEntry[] = [];
  for (let at = 0; ; ) {
    if (at + block > bytes.length) throw new SnapshotDamagedError(`it ends at byte ${bytes.length}, inside a header or before the end-of-archive blocks`);
    const header = bytes.subarray(at, at + block);
    if (header.every((b) => b === 0)) break;
    const sum = octal(header, 148, 8);
    if (sum !== checksum(header)) throw new SnapshotDamagedError(`the header at byte ${at} has a wrong checksum`);
    const prefix = text(header, 345, 155);
    const name = text(header, 0, 100);
    // PGlite names its entries "/base/5/1259"; tar itself "./base/5/1259".
    const path = (prefix ? `${prefix}/${name}` : name).replace(/^\.?\/+|\/+$/g, "");
    const size = octal(header, 124, 12);
    const type = String.fromCharCode(header[156] ?? 0);
    at += block;
    if (at + size > bytes.length) throw new SnapshotDamagedError(`${path} ends past the file's end`);
    if (type === "5") {
      if (path !== "" && path !== ".") entries.push({ path });
    } else if (type === "0" || type === "\0") entries.push({ path, data: bytes.subarray(at, at + size) });
    else throw new SnapshotDamagedError(`${path} has the tar type '${type}', neither a file nor a directory`);
    at += Math.ceil(size / block) * block;
  }
  if (!entries.some((e) => e.path === "PG_VERSION" && e.data)) throw new SnapshotDamagedError("it has no PG_VERSION");
  return entries;
}

function text(header: Uint8Array, offset: number, length: number): string {
  const field = header.subarray(offset, offset + length);
  const end = field.indexOf(0);
  return latin1.decode(end === -1 ? field : field.subarray(0, end));
}

function octal(header: Uint8Array, offset: number, length: number): number {
  const digits = text(header, offset, length).trim();
  if (!/^[0-7]+$/.test(digits)) throw new SnapshotDamagedError(`a header field holds '${digits}', not an octal number`);
  return Number.parseInt(digits, 8);
}

/** The sum of the header's bytes with its checksum field read as eight spaces. */
function checksum(header: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < block; i++) sum += i >= 148 && i < 156 ? 32 : header[i]!;
  return sum;
}
