/**
 * What Kafka refuses does not stop the outbox, against the real PostgreSQL and Kafka: a record
 * refused for what it is (larger than its topic's max.message.bytes) is set aside with Kafka's
 * reason while the events around it go out in order; a topic Kafka does not know holds its own
 * events only, and they go out, in order, once it exists.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { randomUUID } from "node:crypto";
import { collectMigrations, migrate } from "../db/migrate.ts";
import { createEngineEvents, type EngineEventMap } from "../engine-events.ts";
import type { HandlerContext } from "../handlers/contract.ts";
import { type LoadedHandler, validateHandlerModule } from "../handlers/validate.ts";
import { applyUnit } from "../inbox/unit-of-work.ts";
import type { KafkaRecord } from "../kafka/port.ts";
import { createLogger } from "../log/logger.ts";
import { testSql } from "../../tests/support/db.ts";
import { eventMeta } from "../../tests/support/events.ts";
import { testKafka } from "../../tests/support/kafka.ts";
import { header, readRecords } from "../../tests/support/scenario.ts";
import { waitFor } from "../../tests/support/wait.ts";
import { prepareEncoders } from "./encode.ts";
import { createOutboxRelay, type OutboxRelay } from "./relay.ts";
import { createOutboxWriter } from "./writer.ts";

const sql = testSql();
const log = createLogger({ level: "error" });
const run = randomUUID().slice(0, 8);
let kafka: Awaited<ReturnType<typeof testKafka>>;
const topics: string[] = [];

beforeAll(async () => {
  await migrate(sql, await collectMigrations(undefined), log);
  kafka = await testKafka();
});
afterAll(async () => {
  await sql`delete from ferry_outbox where handler like ${`%-${run}`}`;
  await kafka.admin.deleteTopics(topics).catch(() => undefined);
  await kafka.close();
  await sql.end();
});

async function createTopic(prefix: string, configs: Record<string, string> = {}): Promise<string> {
  const topic = `${prefix}-${randomUUID().slice(0, 8)}`;
  await kafka.admin.createTopics([{ topic, partitions: 3, replicationFactor: 3, configs: { "min.insync.replicas": "2", ...configs } }]);
  topics.push(topic);
  return topic;
}

interface Published {
  n: number;
  to: string;
  bytes?: number;
}

/** A handler publishing, for each event, one record per item of `value` (its topic, key k<n % 3>, padded to `bytes`). */
function publisher(name: string, declared: string[]): LoadedHandler {
  const result = validateHandlerModule(`${name}-${run}`, `/h/${name}.ts`, {
    default: {
      topic: "orders",
      publishes: declared.map((topic) => ({ topic })),
      async handle(items: Published[], ctx: HandlerContext) {
        for (const p of items) await ctx.publish(p.to, { n: p.n, pad: "x".repeat(p.bytes ?? 0) }, { key: `k${p.n % 3}` });
      },
    },
  });
  if ("problems" in result) throw new Error(result.problems.join("\n"));
  return result.handler;
}

const meta = eventMeta;

/** One unit of work: each event publishes its items; the relay is woken at the commit. */
async function apply(handler: LoadedHandler, events: Array<{ id: string; items: Published[] }>, relay: OutboxRelay) {
  const encoders = new Map([[handler.name, await prepareEncoders(handler, undefined, "TopicName")]]);
  const outbox = createOutboxWriter({ eventIdHeader: "event-id", encoders, wake: relay.wake });
  const result = await applyUnit(
    events.map((e, i) => ({ meta: meta(e.id, i), value: e.items })),
    null,
    { sql, handler, groupId: `g.${handler.name}`, log, attempt: 1, signal: new AbortController().signal, outbox },
  );
  expect(result.ok).toBe(true);
}

const rowsOf = (handler: LoadedHandler) =>
  sql<Array<{ event_id: string; topic: string; n: number; sent: boolean; failed_at: Date | null; failure: { code: string; message: string } | null }>>`
    select event_id, topic, (convert_from(value, 'utf8')::jsonb->>'n')::int as n, sent_at is not null as sent, failed_at, failure
    from ferry_outbox where handler = ${handler.name} order by id`;

/** Each event once (the first copy: a re-send repeats an event id), per key in arrival order. */
function perKey(records: KafkaRecord[]): Map<string, number[]> {
  const seen = new Set<string>();
  const keys = new Map<string, number[]>();
  for (const r of records) {
    const id = header(r, "event-id")!;
    if (seen.has(id)) continue;
    seen.add(id);
    keys.set(r.key!.toString(), [...(keys.get(r.key!.toString()) ?? []), JSON.parse(r.value!.toString()).n]);
  }
  return keys;
}

function startRelay() {
  const events = createEngineEvents();
  const seen = { refused: [] as Array<EngineEventMap["outbox:refused"]>, waiting: [] as Array<EngineEventMap["outbox:waiting"]> };
  events.on("outbox:refused", (e) => seen.refused.push(e));
  events.on("outbox:waiting", (e) => seen.waiting.push(e));
  // A 3 s idle time for the turn: Kafka's 5 s wait on a missing topic outlasts it, and the
  // relay keeps its turn (no connection failure among the waits) only by speaking on its session.
  // Sent rows kept (retention 1 h): what the relay did with each row is read from the table.
  const relay = createOutboxRelay({
    sql,
    producer: kafka.producer,
    log,
    events,
    settings: { batchSize: 100, pollIntervalMs: 60_000, turnIdleMs: 3_000, retentionHours: 1 },
  });
  return { relay, seen };
}

test("sets aside a record larger than its topic takes, with Kafka's reason; the events around it go out in order", async () => {
  const small = await createTopic("outbox-small", { "max.message.bytes": "100000" });
  const handler = publisher("oversized", [small]);
  const { relay, seen } = startRelay();
  await relay.start();
  try {
    // One unit: 12 events of 3 keys, the 6th 200 KB (under Ferry's 1 MB check at publish, over the topic's 100 KB).
    const items = Array.from({ length: 12 }, (_, n) => ({ id: `e${n}-${run}`, items: [{ n, to: small, ...(n === 5 ? { bytes: 200_000 } : {}) }] }));
    await apply(handler, items, relay);
    await waitFor("every row sent or set aside", async () => (await rowsOf(handler)).every((r) => r.sent || r.failed_at));
    const rows = await rowsOf(handler);
    const refused = rows.filter((r) => r.failed_at);
    expect(refused.map((r) => r.n)).toEqual([5]);
    expect(refused[0]!.sent).toBe(false);
    expect(refused[0]!.failure).toMatchObject({ code: "ERR_MSG_SIZE_TOO_LARGE" });
    expect(refused[0]!.failure!.message).toContain("too large");
    expect(seen.refused).toEqual([
      { eventId: refused[0]!.event_id, topic: small, handler: handler.name, code: "ERR_MSG_SIZE_TOO_LARGE", reason: refused[0]!.failure!.message },
    ]);
    // Nothing waited: the relay moved on at once.
    expect(seen.waiting).toEqual([]);
    const records = await readRecords(kafka, small, 11, 30_000);
    expect(perKey(records)).toEqual(
      new Map([
        ["k0", [0, 3, 6, 9]],
        ["k1", [1, 4, 7, 10]],
        ["k2", [2, 8, 11]],
      ]),
    );
    expect(await relay.backlog()).toMatchObject({ rows: 0 });
    expect((await relay.backlog()).failed).toBeGreaterThanOrEqual(1);

    // Set aside for good: published after it, the next events go out without it.
    await apply(handler, [{ id: `after-${run}`, items: [{ n: 12, to: small }] }], relay);
    await waitFor("the next event sent", async () => (await rowsOf(handler)).find((r) => r.n === 12)?.sent);
    expect((await rowsOf(handler)).filter((r) => r.failed_at).map((r) => r.n)).toEqual([5]);
  } finally {
    await relay.stop();
  }
}, 120_000);

test("a topic Kafka does not know holds its own events only; they go out in order once it exists", async () => {
  const flowing = await createTopic("outbox-flowing");
  const absent = `outbox-absent-${randomUUID().slice(0, 8)}`;
  const handler = publisher("absent", [flowing, absent]);
  const { relay, seen } = startRelay();
  await relay.start();
  try {
    const unit = (from: number) =>
      Array.from({ length: 6 }, (_, i) => ({
        id: `a${from + i}-${run}`,
        items: [
          { n: from + i, to: absent },
          { n: from + i, to: flowing },
        ],
      }));
    await apply(handler, unit(0), relay);
    // The other topic's events go out at once, before librdkafka gives up on the absent one (5 s).
    const startedAt = Date.now();
    await waitFor("the flowing topic's rows sent", async () => (await rowsOf(handler)).filter((r) => r.topic === flowing).every((r) => r.sent), {
      timeoutMs: 10_000,
    });
    const flowingMs = Date.now() - startedAt;
    expect(flowingMs).toBeLessThan(10_000);

    // Refused: held, and said so, naming the topic.
    await waitFor("the absent topic held", () => seen.waiting.some((w) => w.topic === absent), { timeoutMs: 60_000 });
    const held = seen.waiting.find((w) => w.topic === absent)!;
    expect(held.error).toContain("ERR_UNKNOWN_TOPIC_OR_PART");
    // Held, the other topic still flows.
    await apply(handler, unit(6), relay);
    await waitFor("the flowing topic's later rows sent", async () => (await rowsOf(handler)).filter((r) => r.topic === flowing).every((r) => r.sent), {
      timeoutMs: 10_000,
    });
    const waitingRows = (await rowsOf(handler)).filter((r) => r.topic === absent);
    expect(waitingRows.map((r) => [r.sent, r.failed_at])).toEqual(Array.from({ length: 12 }, () => [false, null]));
    // Every wait was the absent topic's: nothing held the relay as a whole.
    expect(seen.waiting.every((w) => w.topic === absent)).toBe(true);

    // Created: its events go out, in order per key, none set aside.
    await kafka.admin.createTopics([{ topic: absent, partitions: 3, replicationFactor: 3, configs: { "min.insync.replicas": "2" } }]);
    topics.push(absent);
    await waitFor("the absent topic's rows sent", async () => (await rowsOf(handler)).filter((r) => r.topic === absent).every((r) => r.sent), {
      timeoutMs: 90_000,
    });
    const expected = new Map([
      ["k0", [0, 3, 6, 9]],
      ["k1", [1, 4, 7, 10]],
      ["k2", [2, 5, 8, 11]],
    ]);
    expect(perKey(await readRecords(kafka, absent, 12, 30_000))).toEqual(expected);
    expect(perKey(await readRecords(kafka, flowing, 12, 30_000))).toEqual(expected);
    expect(seen.refused).toEqual([]);
  } finally {
    await relay.stop();
  }
}, 240_000);
