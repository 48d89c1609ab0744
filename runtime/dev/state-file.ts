/**
 * Where a running `ferry dev` can be reached, written to `<data-dir>/dev.json` so other commands
 * in another shell (`ferry produce --demo`) find the mock cluster and the registry without
 * copying addresses: the mock cluster's ports change at every start.
 */
import { readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { FerryError } from "../errors.ts";

export interface DevState {
  pid: number;
  brokers: string[];
  databaseUrl: string;
  registryUrl: string;
  handlersDir: string;
  httpUrl?: string;
}

export const defaultDataDir = ".ferry-dev";
const fileOf = (dataDir: string) => path.join(dataDir, "dev.json");

export async function writeDevState(dataDir: string, state: DevState): Promise<void> {
  await writeFile(fileOf(dataDir), `${JSON.stringify(state, null, 2)}\n`);
}

export async function removeDevState(dataDir: string): Promise<void> {
  await rm(fileOf(dataDir), { force: true });
}

/** The state of the `ferry dev` running on `dataDir`; an error that says what to do when there is none. */
export async function readDevState(dataDir: string): Promise<DevState> {
  const text = await readFile(fileOf(dataDir), "utf8").catch(() => null);
  const state = text === null ? null : (JSON.parse(text) as DevState);
  if (!state || !isAlive(state.pid)) {
    throw new FerryError(
      `no ferry dev is running on ${path.resolve(dataDir)}: start one in another shell with 'ferry dev --handlers ./handlers' (or pass --data-dir, or --brokers and --registry-url)`,
    );
  }
  return state;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}
