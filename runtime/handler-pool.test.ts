import { expect, test } from "bun:test";
import type { HandlerWorker, PauseTarget } from "./consume/handler-worker.ts";
import { createEngineEvents } from "./engine-events.ts";
import { createHandlerPool } from "./handler-pool.ts";
import type { LoadedHandler } from "./handlers/validate.ts";
import { createLogger } from "./log/logger.ts";

const handler = (name: string, version: number): LoadedHandler => ({
  name,
  file: `/h/${name}.ts`,
  publishes: [],
  topics: [`t-${version}`, "shared"],
  format: "json",
  retry: { attempts: 1, backoffMs: 0, maxBackoffMs: 0 },
  timeoutMs: 1_000,
  apply: { kind: "each", handle: async () => {} },
});

function fakes({ failPrepare = new Set<string>(), failStart = new Set<string>() } = {}) {
  const journal: string[] = [];
  const prepare = async (h: LoadedHandler): Promise<HandlerWorker> => {
    const id = `${h.name}@${h.topics[0]}`;
    if (failPrepare.has(id)) throw new Error(`${id} does not pass the checks`);
    const paused = new Set<string>();
    return {
      handler: h,
      groupId: `ferry.${h.name}`,
      joined: true,
      get paused() {
        return h.topics.every((t) => paused.has(t));
      },
      start: async () => {
        if (failStart.has(id)) throw new Error(`${id} cannot reach Kafka`);
        journal.push(`start ${id}${paused.size ? ` paused ${[...paused].join(",")}` : ""}`);
      },
      stop: async (options) => void journal.push(`stop ${id}${options?.leaveGroup === false ? " (stays in its group)" : ""}`),
      refreshTopics: async () => void journal.push(`refresh ${id}`),
      pause: (t?: PauseTarget) => {
        if (t?.topic) paused.add(t.topic);
        else for (const x of h.topics) paused.add(x);
      },
      resume: () => paused.clear(),
      assignment: () => [],
      stalled: () => [],
    };
  };
  const events = createEngineEvents();
  const emitted: string[] = [];
  for (const name of ["handler:added", "handler:replaced", "handler:removed"] as const) events.on(name, (p) => emitted.push(`${name} ${p.handler}`));
  const pool = createHandlerPool({ prepare, events, log: createLogger({ level: "error", sink: () => {} }) });
  return { pool, journal, emitted };
}

test("replace drains the old version, then starts the new one; other handlers are untouched", async () => {
  const { pool, journal, emitted } = fakes();
  await pool.add(handler("a", 1));
  await pool.add(handler("b", 1));
  await pool.replace(handler("a", 2));
  await pool.remove("b");
  expect(journal).toEqual(["start a@t-1", "start b@t-1", "stop a@t-1 (stays in its group)", "start a@t-2", "stop b@t-1"]);
  expect(pool.list().map((w) => w.handler.topics[0])).toEqual(["t-2"]);
  expect(emitted).toEqual(["handler:added a", "handler:added b", "handler:replaced a", "handler:removed b"]);
});

test("a new version that fails its checks leaves the old one running; one that cannot start brings the old one back", async () => {
  const { pool, journal } = fakes({ failPrepare: new Set(["a@t-2"]), failStart: new Set(["a@t-3"]) });
  await pool.add(handler("a", 1));
  await expect(pool.replace(handler("a", 2))).rejects.toThrow("a@t-2 does not pass the checks");
  expect(journal).toEqual(["start a@t-1"]);
  await expect(pool.replace(handler("a", 3))).rejects.toThrow("a@t-3 cannot reach Kafka");
  expect(journal).toEqual(["start a@t-1", "stop a@t-1 (stays in its group)", "stop a@t-3", "start a@t-1"]);
  expect(pool.get("a")?.handler.topics[0]).toBe("t-1");
});

test("a handler-wide pause carries over to the new version for the topics both consume", async () => {
  const { pool, journal } = fakes();
  await pool.add(handler("a", 1));
  pool.get("a")!.pause();
  await pool.replace(handler("a", 2));
  expect(journal.at(-1)).toBe("start a@t-2 paused shared");
});

test("a handler that cannot start is stopped again, not left half-started", async () => {
  const { pool, journal, emitted } = fakes({ failStart: new Set(["a@t-1"]) });
  await expect(pool.add(handler("a", 1))).rejects.toThrow("a@t-1 cannot reach Kafka");
  expect(journal).toEqual(["stop a@t-1"]);
  expect(pool.list()).toEqual([]);
  expect(emitted).toEqual([]);
});
