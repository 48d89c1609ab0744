/**
 * Many handlers with a backlog each, in one worker: start-up time, peak RSS, threads, PostgreSQL
 * connections, every event applied once. N handlers on N topics of 3 partitions, PER JSON records
 * of ~VALUE_BYTES per topic, one row per event; EXTRA is JSON of more worker settings;
 * MEMORY_LIMIT_MB runs the worker in a memory cgroup of that limit (tests/support/memory-cgroup.ts).
 *
 *   source .services/env && N=10 PER=4500 VALUE_BYTES=4000 [MEMORY_LIMIT_MB=512] bun bench/many-handlers.ts
 */
import { mkdtempSync, writeFileSync, mkdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import postgres from "postgres";
import { testKafka } from "../tests/support/kafka.ts";
import { startFerry } from "../tests/support/ferry-process.ts";
import { memoryCgroup } from "../tests/support/memory-cgroup.ts";
import { waitFor } from "../tests/support/wait.ts";

const N = Number(process.env.N ?? 30);
const db = `probe_many_${Date.now()}`;
const admin = postgres("postgres://postgres@127.0.0.1:5432/postgres", { max: 1 });
await admin.unsafe(`create database ${db}`);
const url = `postgres://postgres@127.0.0.1:5432/${db}`;
const sql = postgres(url, { max: 2, onnotice: () => {} });
const kafka = await testKafka();
const dir = mkdtempSync(path.join(tmpdir(), "ferry-many-"));
mkdirSync(path.join(dir, "migrations"));
writeFileSync(path.join(dir, "migrations", "001.sql"), "create table effects (handler text, event_id text, n int);");
const topics: string[] = [];
for (let i = 0; i < N; i++) topics.push(await kafka.createTopic(`many${i}`, 3));
for (const [i, t] of topics.entries()) {
  writeFileSync(
    path.join(dir, `h${String(i).padStart(2, "0")}.ts`),
    `import { defineHandler } from "ferry";\nexport default defineHandler<{ n: number }>({ topic: ${JSON.stringify(t)}, async handle(v, ctx) { await ctx.sql\`insert into effects values ('h${i}', \${ctx.event.id}, \${v.n})\`; } });\n`,
  );
}
const PER = Number(process.env.PER ?? 200);
const pad = "x".repeat(Number(process.env.VALUE_BYTES ?? 0));
const records = topics.flatMap((t, i) =>
  Array.from({ length: PER }, (_, n) => ({ topic: t, key: `k${n % 17}`, value: JSON.stringify({ n, pad }), headers: { "event-id": `${i}-${n}` } })),
);
await kafka.send(records);
const s0 = Date.now();
const t0 = Date.now();
const cgroup = process.env.MEMORY_LIMIT_MB ? memoryCgroup(Number(process.env.MEMORY_LIMIT_MB), `many-${db}`) : undefined;
if (cgroup && "unavailable" in cgroup) throw new Error(cgroup.unavailable);
const p = startFerry(
  ["run", "--handlers", dir],
  {
    FERRY_DATABASE_URL: url,
    FERRY_GROUP_PREFIX: db,
    ...(process.env.EXTRA ? JSON.parse(process.env.EXTRA) : {}),
  },
  cgroup ? { binary: cgroup.binary } : {},
);
const killed = () => (cgroup ? { cgroupPeakMb: cgroup.peakMb(), oomKills: cgroup.oomKills() } : {});
await p.waitForLog("engine:running", 120_000);
await p.waitForLog("http:listening");
const tRunning = Date.now() - t0;
const port = (p.logs.find((l) => l.msg === "http:listening") as { port: number }).port;

const status = () => {
  const s = readFileSync(`/proc/${p.proc.pid}/status`, "utf8");
  return { rssMb: Number(/VmRSS:\s+(\d+)/.exec(s)![1]) / 1024, threads: Number(/Threads:\s+(\d+)/.exec(s)![1]) };
};
const conns = async () => Number((await admin`select count(*)::int as c from pg_stat_activity where datname = ${db}`)[0]!.c) - 2;
let peak = 0;
let peakHeap = 0;
let heapAtPeak = 0;
const sampler = setInterval(async () => {
  try {
    const r = status().rssMb;
    const m = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    const h = Number(/^nodejs_heap_size_used_bytes (\S+)/m.exec(m)?.[1] ?? 0) / 2 ** 20;
    peakHeap = Math.max(peakHeap, h);
    if (r > peak) {
      peak = r;
      heapAtPeak = h;
    }
  } catch {}
}, 300);
console.log(JSON.stringify({ N, tRunningMs: tRunning }));

// A worker the kernel killed (over MEMORY_LIMIT_MB) ends the wait at once.
const exited = p.exited.then((code) => {
  throw new Error(`ferry exited with ${code ?? p.proc.signalCode} before applying every event: ${JSON.stringify(killed())}`);
});
await Promise.race([
  waitFor("all applied", async () => Number((await sql`select count(*)::int c from effects`)[0]!.c) >= N * PER, { timeoutMs: 180_000, intervalMs: 250 }),
  exited,
]);
const tApply = Date.now() - s0;
clearInterval(sampler);
await Bun.sleep(3000);
const [{ c, d }] = (await sql`select count(*)::int c, count(distinct event_id)::int d from effects`) as unknown as [{ c: number; d: number }];
console.log(
  JSON.stringify({
    applied: c,
    distinct: d,
    expected: N * PER,
    tApplyMs: tApply,
    peakRssMb: peak,
    heapAtPeakMb: heapAtPeak,
    peakHeapMb: peakHeap,
    busy: status(),
    pgConnections: await conns(),
    ...killed(),
  }),
);
const stopT = Date.now();
p.proc.kill("SIGTERM");
console.log(JSON.stringify({ exit: await p.exited, stopMs: Date.now() - stopT }));
await sql.end();
await kafka.close();
await admin.unsafe(`drop database ${db} with (force)`);
await admin.end();
if (cgroup && !("unavailable" in cgroup)) cgroup.remove();
