import {
  chmodSync,
  chownSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readlinkSync,
  renameSync,
  rmSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from "node:fs";
import path from "node:path";

/**
 * Makes `dir` hold exactly `files` the way kubelet updates a ConfigMap volume (its AtomicWriter):
 * the content goes to a new timestamped directory `..2026_…`, a `..data_tmp` symlink to it is
 * renamed over `..data` (the atomic switch), then each top-level name is a symlink into `..data/`
 * (`first.ts -> ..data/first.ts`, `migrations -> ..data/migrations` for `migrations/0001.sql`),
 * names no longer present are unlinked and the previous timestamped directory is removed.
 * Keys may hold one folder level, like a ConfigMap item's `path`. A Secret volume is written the same
 * way; `mode` (its `defaultMode`) and `gid` (the pod's `fsGroup`) apply to the files.
 */
export function writeConfigMapVolume(dir: string, files: Record<string, string>, { mode, gid }: { mode?: number; gid?: number } = {}): void {
  mkdirSync(dir, { recursive: true });
  const data = path.join(dir, "..data");
  const previous = existsSync(data) ? readlinkSync(data) : undefined;
  const stamp = `..${new Date().toISOString().replace(/[-:T]/g, "_").replace(/\..*$/, "")}.${Math.random().toString(36).slice(2, 11)}`;
  for (const [key, content] of Object.entries(files)) {
    const file = path.join(dir, stamp, key);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, content);
    if (mode !== undefined) chmodSync(file, mode);
    if (gid !== undefined) chownSync(file, 0, gid);
  }
  mkdirSync(path.join(dir, stamp), { recursive: true });
  symlinkSync(stamp, path.join(dir, "..data_tmp"));
  renameSync(path.join(dir, "..data_tmp"), data);
  const visible = new Set(Object.keys(files).map((key) => key.split("/")[0]!));
  for (const name of visible) {
    if (!existsSync(path.join(dir, name))) symlinkSync(`..data/${name}`, path.join(dir, name));
  }
  for (const name of readdirSync(dir)) {
    if (!name.startsWith("..") && !visible.has(name) && lstatSync(path.join(dir, name)).isSymbolicLink()) unlinkSync(path.join(dir, name));
  }
  if (previous) rmSync(path.join(dir, previous), { recursive: true, force: true });
}
