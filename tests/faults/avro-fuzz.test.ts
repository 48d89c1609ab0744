/**
 * Avro fuzzing through the compiled binary on the real cluster: ≥ 10,000 seeded mutations of
 * valid records (100,000 with FERRY_FAULTS_LONG=1), interleaved with valid events over six
 * partitions. Each record must end exactly one way: applied once when it is in fact valid (the
 * oracle in support/avro-oracle.ts decides, not Ferry's code), or dead-lettered with the reason
 * the rules give. No partition may stop short of its end, and the worker's memory stays bounded.
 * The seed is printed; FERRY_FAULTS_SEED=<seed> replays a run.
 *
 * Business keys beyond the documented rule (U+0000, a lone surrogate, over 2,048 bytes of UTF-8;
 * PostgreSQL's btree refuses incompressible ones from ~2,650) are expected as
 * `unstorable-business-key` dead letters; every key PostgreSQL refuses must be one the rule refuses.
 */
import { afterAll, expect, test } from "bun:test";
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { testSql } from "../support/db.ts";
import { testServices } from "../support/env.ts";
import { startFerry } from "../support/ferry-process.ts";
import { writeHandlersDir } from "../support/handlers.ts";
import { testRegistry } from "../support/registry.ts";
import { waitFor } from "../support/wait.ts";
import { fuzzReaderSchema, fuzzWorkload, fuzzWriterSchema, type FuzzRecord } from "./support/avro-fuzz.ts";
import { check, type Intent } from "./support/checker.ts";
import { faultKafka, type FaultRecord } from "./support/kafka.ts";
import { keepLog, long, reportCounts, seed } from "./support/report.ts";

const kafka = faultKafka(testServices().brokers);
const sql = testSql();
const registry = testRegistry();
afterAll(async () => {
  await registry.cleanup();
  await kafka.close();
  await sql.end();
});

const partitions = 6;
const [validCount, mutatedCount] = long ? [30_000, 100_000] : [3_000, 10_000];
/**
 * Peak resident memory allowed to the worker. Idle it holds ~90 MB; the default run peaked at
 * ~150 MB (13,000 records, batches of up to 1,000 of at most ~10 KB). Without the strict guard one
 * 48-byte record claiming 2,000,000 items cost avsc +120 MB and 0.5 s (one claiming 2^31, ~100 GB;
 * those stall their partition, which the offset bound catches), and the default run holds dozens
 * of 2,000,000 counts: 250 MB leaves room for garbage-collection lag, not for those. The long run
 * keeps a 130,000-record backlog flowing for ~40 s and peaked at ~285 MB, like steady traffic: its
 * bound is the benchmark's peak for valid 1 KiB events at full speed (~390 MB, README).
 */
const rssBoundMb = long ? 400 : 250;

function handlerSource(topic: string, table: string): string {
  return `import { defineHandler } from "ferry";

interface FuzzOrder { orderId: string; n: number }

export default defineHandler<FuzzOrder>({
  topic: ${JSON.stringify(topic)},
  format: "avro",
  schema: ${JSON.stringify(fuzzReaderSchema)},
  businessKey: (order) => order.orderId,
  async handleBatch(items, ctx) {
    await ctx.sql\`insert into ${table} (event_id, n)
      select * from unnest(\${items.map((i) => i.event.id)}::text[], \${items.map((i) => i.value.n)}::int[])\`;
  },
});
`;
}

/** VmRSS of a process in MB, or undefined once it is gone. */
function rssMb(pid: number): number | undefined {
  try {
    const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1];
    return kb ? Number(kb) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The documented rule (README, "What the worker does with each event"), written here apart from
 * runtime/: a business key is at most 2,048 bytes of UTF-8, well-formed, without U+0000.
 */
function refusedByTheRule(key: string): string | null {
  if (key.includes("\u0000")) return "contains U+0000";
  if (!key.isWellFormed()) return "contains a lone surrogate";
  if (Buffer.byteLength(key) > 2_048) return `is ${Buffer.byteLength(key)} bytes of UTF-8`;
  return null;
}

/**
 * Keys PostgreSQL itself refuses, asked of PostgreSQL: each is inserted into a scratch copy of
 * ferry_business_keys (same columns, same primary key) and rolled back. The rule must refuse
 * every one of them (it may refuse more: it does not depend on how well a key compresses).
 */
async function refusedByPostgres(keys: string[], handler: string): Promise<Map<string, string>> {
  const refused = new Map<string, string>();
  await sql.begin(async (tx) => {
    await tx`create temp table fuzz_key_probe (like ferry_business_keys including all) on commit drop`;
    for (const key of keys) {
      try {
        await tx.savepoint((sp) => sp`insert into fuzz_key_probe (handler, business_key, event_id) values (${handler}, ${key}, 'probe')`);
      } catch (e) {
        refused.set(key, (e as Error).message);
      }
    }
  });
  return refused;
}

test(
  `Avro fuzzing: ${mutatedCount.toLocaleString("en")} mutated records among ${validCount.toLocaleString("en")} valid ones, each applied once or dead-lettered with its reason`,
  async () => {
    console.log(`avro-fuzz: seed ${seed} (replay with FERRY_FAULTS_SEED=${seed})`);
    const id = randomUUID().slice(0, 8);
    const topic = await kafka.createTopic("avro-fuzz", partitions);
    const table = `avro_fuzz_${id}`;
    registry.track(`${topic}-value`);
    const schemaId = (await registry.client.register(`${topic}-value`, JSON.stringify(fuzzWriterSchema))).id;
    const dir = writeHandlersDir(
      { "fuzz-order.ts": handlerSource(topic, table) },
      { [`0001_${table}.sql`]: `create table ${table} (id bigserial primary key, event_id text not null, n int not null);` },
    );
    const groupId = `avro-fuzz-${id}.fuzz-order`;
    const worker = startFerry(["run", "--handlers", dir, "--group-prefix", `avro-fuzz-${id}`], { FERRY_SCHEMA_REGISTRY_URL: registry.url });
    let peakMb = 0;
    const sampler = setInterval(() => {
      peakMb = Math.max(peakMb, rssMb(worker.proc.pid) ?? 0);
    }, 100);
    const producer = await kafka.ackProducer({ maxMessageBytes: 2_000_000 });
    try {
      await worker.waitForLog("engine:running", 90_000);
      const idleMb = rssMb(worker.proc.pid) ?? 0;

      const generated = fuzzWorkload({ prefix: topic, schemaId, valid: validCount, mutated: mutatedCount, seed });
      // Keys the rules alone cannot settle: U+0000 and anything long enough to reach the btree row limit.
      const unusual = [
        ...new Set(
          generated.flatMap((r) =>
            r.expect.kind === "apply" && (r.expect.businessKey.includes("\u0000") || Buffer.byteLength(r.expect.businessKey) > 1_000)
              ? [r.expect.businessKey]
              : [],
          ),
        ),
      ];
      const byPostgres = await refusedByPostgres(unusual, "fuzz-order");
      for (const key of byPostgres.keys()) expect(refusedByTheRule(key)).not.toBeNull();
      const refused = new Map(unusual.flatMap((key) => (refusedByTheRule(key) ? [[key, refusedByTheRule(key)!] as const] : [])));
      const records: FaultRecord[] = generated.map((r) => ({
        topic,
        key: r.key,
        value: r.value,
        headers: r.headers,
        eventId: r.eventId,
        intent: intentOf(r, refused),
      }));
      const mutated = generated.filter((r) => r.kind !== "valid").length;
      expect(mutated).toBeGreaterThanOrEqual(mutatedCount);

      const started = Date.now();
      await producer.send(records);
      expect(producer.produced.filter((p) => !p.ack)).toEqual([]);
      const ends = await kafka.ends(topic);
      const caughtUp = async () => {
        const rows = await sql<{ partition: number; next_offset: string }[]>`
          select partition, next_offset from ferry_offsets where group_id = ${groupId} and topic = ${topic}`;
        const next = new Map(rows.map((r) => [r.partition, BigInt(r.next_offset)]));
        return [...ends].filter(([p, end]) => (next.get(p) ?? 0n) < end).map(([p, end]) => `partition ${p}: ${next.get(p) ?? 0n} of ${end}`);
      };
      // Every partition reaches its end in PostgreSQL's offsets: nothing blocks, however hostile the record.
      let behind: string[] = [];
      await waitFor(
        "every partition's offset in ferry_offsets at its end",
        async () => {
          behind = await caughtUp();
          return behind.length === 0;
        },
        { timeoutMs: long ? 900_000 : 90_000, intervalMs: 250 },
      ).catch((e) => {
        throw new Error(`${(e as Error).message}; stuck: ${behind.join(", ")}`);
      });
      const elapsedMs = Date.now() - started;

      const applied = (await sql<{ event_id: string }[]>`select event_id from ${sql(table)}`).map((r) => ({ eventId: r.event_id }));
      const report = check(producer.produced, applied, await kafka.readDeadLetters(`${topic}.dlt`, { timeoutMs: 120_000 }));
      const byKind: Record<string, Record<string, number>> = {};
      for (const [i, r] of records.entries()) {
        const kind = generated[i]!.kind;
        const outcome = r.intent.kind === "apply" ? "apply" : (r.intent.messagePrefix ?? r.intent.reason);
        byKind[kind] ??= {};
        byKind[kind][outcome] = (byKind[kind][outcome] ?? 0) + 1;
      }
      const restarts = worker.logs.filter((l) => l.msg === "engine:running").length - 1;
      reportCounts("avro-fuzz", {
        partitions,
        valid: records.length - mutated,
        mutated,
        unstorableKeys: refused.size,
        acknowledged: report.acknowledged,
        expected: report.expected,
        applied: report.applied,
        duplicates: report.duplicates,
        missing: report.missing,
        unexpected: report.unexpected,
        deadLettered: report.deadLettered,
        deadLetterMissing: report.deadLetterMissing,
        deadLetterWrong: report.deadLetterWrong.length,
        deadLetterUnexpected: report.deadLetterUnexpected,
        restarts,
        idleRssMb: Math.round(idleMb),
        peakRssMb: Math.round(peakMb),
        elapsedMs,
      });
      console.table(Object.entries(byKind).map(([kind, outcomes]) => ({ kind, ...outcomes })));
      expect(report.deadLetterWrong.slice(0, 20)).toEqual([]);
      expect({ duplicates: report.duplicates, missing: report.missing, unexpected: report.unexpected }).toEqual({ duplicates: 0, missing: 0, unexpected: 0 });
      expect({ deadLetterMissing: report.deadLetterMissing, deadLetterUnexpected: report.deadLetterUnexpected }).toEqual({
        deadLetterMissing: 0,
        deadLetterUnexpected: 0,
      });
      expect(report.ok).toBe(true);
      // Stated on its own: every valid event applied exactly once (valid events never share a key with another record).
      const rowsById = new Map<string, number>();
      for (const a of applied) rowsById.set(a.eventId, (rowsById.get(a.eventId) ?? 0) + 1);
      const validIds = generated.filter((r) => r.kind === "valid").map((r) => r.eventId!);
      expect(validIds.filter((v) => rowsById.get(v) !== 1)).toEqual([]);
      expect(worker.proc.exitCode).toBeNull();
      expect(restarts).toBe(0);
      expect(peakMb).toBeLessThan(rssBoundMb);
    } finally {
      clearInterval(sampler);
      await producer.close();
      worker.proc.kill("SIGTERM");
      await worker.exited;
      keepLog(`avro-fuzz-${id}`, worker.output());
      await sql.unsafe(`drop table if exists ${table}`);
    }
  },
  long ? 1_200_000 : 180_000,
);

function intentOf(r: FuzzRecord, refused: Map<string, string>): Intent {
  if (r.expect.kind === "dead-letter") return r.expect;
  if (refused.has(r.expect.businessKey)) return { kind: "dead-letter", reason: "unstorable-business-key" };
  return { kind: "apply", businessKey: r.expect.businessKey };
}
