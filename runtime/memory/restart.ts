/**
 * Restarts this process in place with more environment variables: execve(2) of the same
 * executable with the same arguments, so the pid, the open standard streams and whoever waits on
 * the process stay the same (a container's PID 1 stays PID 1). Settings an allocator reads only at
 * start cannot be given any later (allocator-env.ts says which and why).
 */
import { dlopen, FFIType, ptr } from "bun:ffi";
import { readFileSync } from "node:fs";

/** Returned only when the process did not restart: `failed` says why, when it tried. */
export type RestartOutcome = { failed?: string };

/**
 * Never returns when it restarts. Returns at once when there is nothing to add or the system is
 * not Linux, and with `failed` when the restart could not be made: the process then carries on
 * as it is.
 */
export function restartWithEnv(additions: Record<string, string>): RestartOutcome {
  if (Object.keys(additions).length === 0 || process.platform !== "linux") return {};
  let argv: string[];
  let environment: string[];
  try {
    // Both byte for byte as the process received them (latin1 maps bytes 1:1), argv[0] included:
    // process.argv and process.env are decoded, and process.argv rewrites its first entries.
    argv = nulSeparated(readFileSync("/proc/self/cmdline", "latin1"));
    environment = nulSeparated(readFileSync("/proc/self/environ", "latin1"));
  } catch (e) {
    return { failed: `cannot read the process's arguments and environment from /proc/self: ${(e as Error).message}` };
  }
  const added = Object.keys(additions);
  environment = environment.filter((entry) => !added.some((name) => entry.startsWith(`${name}=`)));
  for (const [name, value] of Object.entries(additions)) environment.push(`${name}=${value}`);
  let libc: ReturnType<typeof openLibc>;
  try {
    libc = openLibc();
  } catch (e) {
    return { failed: `cannot load libc's execve: ${(e as Error).message}` };
  }
  // Every string and table stays referenced until execve returns (it only returns on failure).
  const path = cString("/proc/self/exe");
  const args = argv.map(cString);
  const vars = environment.map(cString);
  const argTable = pointerTable(args);
  const varTable = pointerTable(vars);
  libc.symbols.execve(ptr(path), ptr(argTable), ptr(varTable));
  return { failed: "execve(/proc/self/exe) returned an error" };
}

function openLibc() {
  return dlopen("libc.so.6", { execve: { args: [FFIType.ptr, FFIType.ptr, FFIType.ptr], returns: FFIType.i32 } });
}

function nulSeparated(text: string): string[] {
  return text.split("\0").slice(0, -1);
}

/** Bytes as read (latin1), NUL-terminated. */
function cString(text: string): Buffer {
  return Buffer.from(`${text}\0`, "latin1");
}

/** A NULL-terminated array of pointers to `strings`, as execve takes argv and envp. */
function pointerTable(strings: Buffer[]): BigUint64Array {
  const table = new BigUint64Array(strings.length + 1);
  for (let i = 0; i < strings.length; i++) table[i] = BigInt(ptr(strings[i]!));
  return table;
}
