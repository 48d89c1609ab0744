import { readFileSync } from "node:fs";

/**
 * Where to look for a controller's files, by /proc/self/cgroup: the process's own cgroup, then the
 * mount's root. A container that mounts its cgroup as the root of /sys/fs/cgroup (its
 * /proc/self/cgroup may still name the host's path) has the files there. cgroup v2 has one
 * hierarchy; v1 one per controller (`cpu`, `memory`), mounted under its name.
 */
export function cgroupDirs(procSelfCgroup: string | undefined, v1Controller: "cpu" | "memory" = "cpu"): { v2: string[]; v1: string[] } {
  const lines = (procSelfCgroup ?? "").split("\n").map((l) => l.split(":"));
  const own = (controllers: (c: string) => boolean) => {
    const path = lines
      .find((l) => l.length >= 3 && controllers(l[1]!))
      ?.slice(2)
      .join(":");
    return path && path !== "/" ? [path] : [];
  };
  const v1Root = `/sys/fs/cgroup/${v1Controller}`;
  const v2 = own((c) => c === "").map((p) => `/sys/fs/cgroup${p}`);
  const v1 = own((c) => c.split(",").includes(v1Controller)).map((p) => `${v1Root}${p}`);
  return { v2: [...v2, "/sys/fs/cgroup"], v1: [...v1, v1Root] };
}

/** The first of `dirs` that has `file`, read; undefined when none does. */
export function firstFile(read: (path: string) => string | undefined, dirs: string[], file: string): string | undefined {
  return dirs.map((d) => read(`${d}/${file}`)).find((text) => text !== undefined);
}

export function readQuietly(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}
