/**
 * Under a container's memory limit the worker sizes its batches to fit (config/schema.ts,
 * fittedBatchSize) instead of being killed by the kernel at each start, as it was before: a
 * backlog drained under a 128 MB limit with the defaults, every event applied once.
 */
import { expect, test } from "bun:test";
import { startFerry } from "../support/ferry-process.ts";
import { writeHandlersDir } from "../support/handlers.ts";
import { memoryCgroup } from "../support/memory-cgroup.ts";
import { useScenarios } from "../support/suite.ts";
import { waitFor } from "../support/wait.ts";

const { sql, kafka, track } = useScenarios();

const PARTITIONS = 8;
// A backlog large enough that 1000-event batches got the worker killed under this limit (120,000
// did, 80,000 did not, at 20:35 UTC on 2026-12-07).
const EVENTS = 150_000;

async function backlog(prefix: string) {
  const topic = await kafka().createTopic(prefix, PARTITIONS);
  const table = `mem_${topic.slice(-8)}`;
  const filler = "x".repeat(900);
  const records = Array.from({ length: EVENTS }, (_, n) => ({
    topic,
    key: `k${n % 64}`,
    value: JSON.stringify({ n, note: filler }),
    headers: { "event-id": `${topic}-${n}` },
  }));
  await kafka().send(records);
  const dir = writeHandlersDir(
    {
      "orders.ts": `import { defineHandler } from "ferry";
export default defineHandler<{ n: number; note: string }>({
  topic: ${JSON.stringify(topic)},
  async handleBatch(items, ctx) {
    await ctx.sql\`insert into ${table} (event_id, n) select * from unnest(\${items.map((i) => i.event.id)}::text[], \${items.map((i) => i.value.n)}::int[])\`;
  },
});
`,
    },
    { [`0001_${table}.sql`]: `create table ${table} (event_id text primary key, n int not null);` },
  );
  return { topic, table, dir };
}

/** A memory cgroup of `limitMb`, removed after the test; undefined (said) where this machine cannot make one. */
function trackedCgroup(limitMb: number) {
  const cgroup = memoryCgroup(limitMb, `ferry-test-${limitMb}`);
  if ("unavailable" in cgroup) {
    console.warn(`skipped: ${cgroup.unavailable}`);
    return undefined;
  }
  track({ cleanup: () => cgroup.remove() });
  return cgroup;
}

test("a worker under a 128 MB memory limit lowers its batch and heap target to fit, says so, and drains a backlog of 150,000 ~1 KiB events exactly once without being killed", async () => {
  const cgroup = trackedCgroup(128);
  if (!cgroup) return;
  const { topic, table, dir } = await backlog("memlimit");
  const worker = startFerry(["run", "--handlers", dir, "--group-prefix", `mem-${topic.slice(-8)}`], {}, { binary: cgroup.binary });
  track({ cleanup: () => worker.proc.exitCode === null && worker.proc.kill("SIGKILL") });
  expect(await worker.waitForLog("memory:settings")).toMatchObject({
    limitMb: 128,
    batchSize: 200,
    batchSizeSource: "memory-limit",
    targetMb: 64,
    engineMemoryMb: 64,
  });
  expect(await worker.waitForLog("memory:batch-size-lowered")).toMatchObject({ level: "warn", limitMb: 128, batchSize: 200 });
  const applied = async () => (await sql`select count(*)::int as n from ${sql(table)}`)[0]!.n;
  const end = await waitFor(
    "every event applied, or the worker gone",
    async () => (worker.proc.exitCode !== null || worker.proc.signalCode !== null ? "gone" : (await applied()) === EVENTS && "applied"),
    {
      timeoutMs: 120_000,
    },
  );
  expect({ end, signal: worker.proc.signalCode, oomKills: cgroup.oomKills(), applied: await applied() }).toEqual({
    end: "applied",
    signal: null,
    oomKills: 0,
    applied: EVENTS,
  });
  expect(cgroup.oomKills()).toBe(0);
  expect(cgroup.peakMb()).toBeLessThanOrEqual(128);
  const [row] = await sql`select count(distinct n)::int as distinct_n, min(n)::int as lo, max(n)::int as hi from ${sql(table)}`;
  expect(row).toEqual({ distinct_n: EVENTS, lo: 0, hi: EVENTS - 1 });
  worker.proc.kill("SIGTERM");
  expect(await worker.exited).toBe(0);
});

test("handlers in one worker share its memory limit: each is fitted a smaller batch, and the start-up log says for how many", async () => {
  const cgroup = trackedCgroup(256);
  if (!cgroup) return;
  const topics = await Promise.all([1, 2, 3].map((n) => kafka().createTopic(`memshare${n}`, 2)));
  const dir = writeHandlersDir(
    Object.fromEntries(
      topics.map((topic, n) => [
        `h${n}.ts`,
        `import { defineHandler } from "ferry";\nexport default defineHandler({ topic: ${JSON.stringify(topic)}, async handleBatch() {} });\n`,
      ]),
    ),
  );
  const worker = startFerry(["run", "--handlers", dir, "--group-prefix", `memshare-${topics[0]!.slice(-8)}`], {}, { binary: cgroup.binary });
  track({ cleanup: () => worker.proc.exitCode === null && worker.proc.kill("SIGKILL") });
  // One handler alone would keep 1000 under 256 MB; three times the lanes and batches in flight would not.
  expect(await worker.waitForLog("memory:settings")).toMatchObject({ limitMb: 256, handlers: 3, batchSize: 400, batchSizeSource: "memory-limit" });
  expect(await worker.waitForLog("memory:batch-size-lowered")).toMatchObject({ level: "warn", limitMb: 256, batchSize: 400, handlers: 3 });
  worker.proc.kill("SIGTERM");
  expect(await worker.exited).toBe(0);
});
