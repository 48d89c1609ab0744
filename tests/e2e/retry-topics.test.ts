/**
 * Non-blocking retries (issue 18), through the compiled binary on the real cluster: a handler with
 * `retry: { mode: "topics", delays: ["1s", "2s"] }`. An event that fails twice is applied once, on
 * its third attempt, never before its due time, and the events after it in its partition are
 * applied before its first retry is even due; one that always fails is dead-lettered as
 * retry-topics-exhausted with every attempt; a permanent one is dead-lettered at once.
 */
import { afterAll, expect, test } from "bun:test";
import { buildRetryRecord } from "../../runtime/retry/envelope.ts";
import { type FerryProcess, startFerry } from "../support/ferry-process.ts";
import { writeHandlersDir } from "../support/handlers.ts";
import { header, readRecords } from "../support/scenario.ts";
import { useScenarios } from "../support/suite.ts";
import { waitFor } from "../support/wait.ts";

const { sql, kafka, track } = useScenarios();
const created: string[] = [];
afterAll(async () => {
  // Only this file's topics: the retry topics the worker created, the source and its dead letter topic.
  if (created.length > 0)
    await kafka()
      .admin.deleteTopics(created)
      .catch(() => undefined);
});

/**
 * Records each application with its attempt and, for a retry, its due time and the attempts
 * before it (the ferry-retry-* headers). `failUntil`: the attempts that throw.
 */
const retryingHandler = (topic: string, table: string, retry = '{ mode: "topics", delays: ["1s", "2s"] }') => `import { defineHandler } from "ferry";

export default defineHandler<{ n: number; failUntil?: number; permanent?: boolean }>({
  topic: ${JSON.stringify(topic)},
  retry: ${retry},
  async handle(p, ctx) {
    if (p.permanent) throw ctx.permanent(\`event \${p.n} can never apply\`);
    if (ctx.attempt <= (p.failUntil ?? 0)) throw new RangeError(\`event \${p.n} fails on attempt \${ctx.attempt}\`);
    const due = ctx.event.headers["ferry-retry-due-at"];
    await ctx.sql\`insert into ${table} (event_id, n, attempt, due_at, history, topic, event_offset, applied_at_ms)
      values (\${ctx.event.id}, \${p.n}, \${ctx.attempt}, \${due === undefined ? null : Number(due)},
        \${ctx.event.headers["ferry-retry-history"] ?? null}, \${ctx.event.topic}, \${ctx.event.offset},
        (extract(epoch from clock_timestamp()) * 1000)::bigint)\`;
  },
});
`;

interface Row {
  event_id: string;
  n: number;
  attempt: number;
  due_at: string | null;
  history: string | null;
  topic: string;
  event_offset: string;
  applied_at_ms: string;
}
interface Attempt {
  attempt: number;
  dueAt?: number;
  failedAt: number;
  errorClass: string;
  error: string;
}

test("retry topics: a twice-failing event is applied once when due without blocking its partition; the always-failing one is dead-lettered with every attempt", async () => {
  const topic = await kafka().createTopic("retry-topics", 1);
  const handlerName = "retrying";
  const retryTopics = [1, 2].map((stage) => `${topic}.${handlerName}.retry.${stage}`);
  created.push(topic, `${topic}.dlt`, ...retryTopics);
  const table = `retry_topics_${topic.slice(-8)}`;
  const dir = writeHandlersDir(
    { [`${handlerName}.ts`]: retryingHandler(topic, table) },
    {
      [`0001_${table}.sql`]: `create table ${table} (id bigserial primary key, event_id text not null, n int not null, attempt int not null,
        due_at bigint, history text, topic text not null, event_offset text not null, applied_at_ms bigint not null);`,
    },
  );
  const event = (n: number, value: Record<string, unknown>) => ({
    topic,
    key: "one-key",
    value: JSON.stringify({ n, ...value }),
    headers: { "event-id": `${topic}-${n}` },
  });
  await kafka().send([event(0, { failUntil: 2 }), ...[1, 2, 3, 4, 5].map((n) => event(n, {})), event(6, { failUntil: 99 }), event(7, { permanent: true })]);
  const worker: FerryProcess = startFerry(["run", "--handlers", dir, "--group-prefix", `retry-topics-${topic.slice(-8)}`]);
  track({ cleanup: () => worker.proc.exitCode === null && worker.proc.kill("SIGKILL") });

  const rows = () => sql<Row[]>`select * from ${sql(table)} order by id`;
  await waitFor("the six events that succeed sooner or later", async () => (await rows()).length === 6, { timeoutMs: 60_000 });
  const letters = await readRecords(kafka(), `${topic}.dlt`, 2);
  const applied = await rows();

  // Applied once each; the retried one on its third attempt, as the same event (id, topic, offset).
  expect(applied.map((r) => [r.n, r.attempt])).toEqual([
    [1, 1],
    [2, 1],
    [3, 1],
    [4, 1],
    [5, 1],
    [0, 3],
  ]);
  const retried = applied.find((r) => r.n === 0)!;
  expect(retried).toMatchObject({ event_id: `${topic}-0`, topic, event_offset: "0" });
  // Due times respected: never run before it was due; each earlier attempt too.
  expect(Number(retried.applied_at_ms)).toBeGreaterThanOrEqual(Number(retried.due_at));
  const before = JSON.parse(retried.history!) as Attempt[];
  expect(before.map((a) => [a.attempt, a.errorClass, a.error])).toEqual([
    [1, "RangeError", "event 0 fails on attempt 1"],
    [2, "RangeError", "event 0 fails on attempt 2"],
  ]);
  expect(before[1]!.failedAt).toBeGreaterThanOrEqual(before[1]!.dueAt!);
  expect(before[1]!.dueAt! - before[0]!.failedAt).toBeGreaterThanOrEqual(1_000);
  expect(Number(retried.due_at) - before[1]!.failedAt).toBeGreaterThanOrEqual(2_000);
  // Not blocked: the later events of its partition (one key, even) were applied before its first retry was due.
  for (const r of applied.filter((r) => r.n !== 0)) expect(Number(r.applied_at_ms)).toBeLessThan(before[1]!.dueAt!);

  // The permanent one at once, the always-failing one after its last delay, both to the source's dead letter topic.
  expect(letters.map((l) => [header(l, "ferry-event-id"), header(l, "ferry-reason"), header(l, "ferry-attempts")])).toEqual([
    [`${topic}-7`, "permanent", "1"],
    [`${topic}-6`, "retry-topics-exhausted", "3"],
  ]);
  const exhausted = letters[1]!;
  expect([header(exhausted, "ferry-source-topic"), header(exhausted, "ferry-source-offset"), header(exhausted, "ferry-error-class")]).toEqual([
    topic,
    "6",
    "RangeError",
  ]);
  // The original record: its own headers, no retry envelope left on it.
  expect(Object.keys(exhausted.headers).filter((h) => h.startsWith("ferry-retry-"))).toEqual(["ferry-retry-history"]);
  expect(JSON.parse(exhausted.value!.toString())).toEqual({ n: 6, failUntil: 99 });
  const attempts = JSON.parse(header(exhausted, "ferry-retry-history")!) as Attempt[];
  expect(attempts.map((a) => a.attempt)).toEqual([1, 2, 3]);
  for (const a of attempts.slice(1)) expect(a.failedAt).toBeGreaterThanOrEqual(a.dueAt!);

  // Nothing waited in place, and the retry topics were created by the worker, like the dead letter topic.
  expect(worker.logs.filter((l) => l.msg === "partition:waiting")).toEqual([]);
  expect(worker.logs.filter((l) => l.msg === "topic:retry-created").map((l) => l.topic)).toEqual(retryTopics);
  expect(worker.logs.filter((l) => l.msg === "event:retry-scheduled").map((l) => [l.eventId, l.attempt, l.retryTopic])).toEqual([
    [`${topic}-0`, 2, retryTopics[0]],
    [`${topic}-6`, 2, retryTopics[0]],
    [`${topic}-0`, 3, retryTopics[1]],
    [`${topic}-6`, 3, retryTopics[1]],
  ]);

  // A retry record due in the year 2500 (a clock far ahead wrote it, or not Ferry): it runs one stage
  // delay (1 s) after it was first seen, not never, and the worker says why.
  const farAhead = Date.UTC(2500, 0, 1);
  const sentAt = Date.now();
  await kafka().send([
    buildRetryRecord(
      {
        topic,
        partition: 0,
        offset: "8",
        key: Buffer.from("one-key"),
        value: Buffer.from(JSON.stringify({ n: 8 })),
        headers: { "event-id": Buffer.from(`${topic}-8`) },
        timestamp: sentAt,
      },
      {
        topic: retryTopics[0]!,
        attempt: 2,
        dueAt: farAhead,
        firstAttemptAt: sentAt,
        history: [{ attempt: 1, failedAt: sentAt, errorClass: "Error", error: "failed once" }],
      },
    ),
  ]);
  await waitFor("the retry record due in 2500 applied after its stage's delay", async () => (await rows()).some((r) => r.n === 8), { timeoutMs: 30_000 });
  const late = (await rows()).find((r) => r.n === 8)!;
  expect([late.attempt, Number(late.due_at)]).toEqual([2, farAhead]);
  expect(Number(late.applied_at_ms) - sentAt).toBeGreaterThanOrEqual(1_000);
  expect(worker.logs.filter((l) => l.msg === "retry:due-time-ahead").map((l) => l.offset)).toEqual(["2"]); // after the first retries of events 0 and 6

  worker.proc.kill("SIGTERM");
  expect(await worker.exited).toBe(0);
  await sql.unsafe(`drop table ${table}`);
}, 120_000);

test("retry topics the handler no longer has (delays shortened, back to in-place) are still read: their events run, or are dead-lettered, never stranded", async () => {
  const topic = await kafka().createTopic("retry-leftover", 1);
  // Each handler had more stages before: stage 2 of a handler now with one delay, stage 1 of one now retrying in place.
  const leftovers = [`${topic}.shortened.retry.2`, `${topic}.in-place.retry.1`];
  created.push(topic, `${topic}.dlt`, `${topic}.shortened.retry.1`, ...leftovers);
  await kafka().admin.createTopics(leftovers.map((t) => ({ topic: t, partitions: 1, replicationFactor: 3, configs: { "min.insync.replicas": "2" } })));
  const table = `retry_leftover_${topic.slice(-8)}`;
  const dir = writeHandlersDir(
    {
      "shortened.ts": retryingHandler(topic, table, '{ mode: "topics", delays: ["1s"] }'),
      "in-place.ts": retryingHandler(topic, table, "{ attempts: 3, backoffMs: 10 }"),
    },
    {
      [`0001_${table}.sql`]: `create table ${table} (id bigserial primary key, event_id text not null, n int not null, attempt int not null,
        due_at bigint, history text, topic text not null, event_offset text not null, applied_at_ms bigint not null);`,
    },
  );
  const now = Date.now();
  const waiting = (retryTopic: string, n: number, attempt: number, value: Record<string, unknown>) =>
    buildRetryRecord(
      {
        topic,
        partition: 0,
        offset: String(n),
        key: Buffer.from("k"),
        value: Buffer.from(JSON.stringify({ n, ...value })),
        headers: { "event-id": Buffer.from(`${topic}-${n}`) },
        timestamp: now,
      },
      {
        topic: retryTopic,
        attempt,
        dueAt: now,
        firstAttemptAt: now,
        history: [{ attempt: attempt - 1, failedAt: now, errorClass: "Error", error: "failed before" }],
      },
    );
  await kafka().send([waiting(leftovers[0]!, 1, 3, {}), waiting(leftovers[0]!, 2, 3, { failUntil: 99 }), waiting(leftovers[1]!, 3, 2, {})]);
  const worker: FerryProcess = startFerry(["run", "--handlers", dir, "--group-prefix", `retry-leftover-${topic.slice(-8)}`]);
  track({ cleanup: () => worker.proc.exitCode === null && worker.proc.kill("SIGKILL") });

  const rows = () => sql<Row[]>`select * from ${sql(table)} order by n`;
  await waitFor("the leftover retry topics' events that succeed", async () => (await rows()).length === 2, { timeoutMs: 60_000 });
  expect((await rows()).map((r) => [r.n, r.attempt, r.event_id])).toEqual([
    [1, 3, `${topic}-1`],
    [3, 2, `${topic}-3`],
  ]);
  // Past the handler's one delay, the failing one is dead-lettered to the source's dead letter topic.
  const [letter] = await readRecords(kafka(), `${topic}.dlt`, 1);
  expect([header(letter!, "ferry-event-id"), header(letter!, "ferry-reason"), header(letter!, "ferry-attempts")]).toEqual([
    `${topic}-2`,
    "retry-topics-exhausted",
    "3",
  ]);
  expect(
    worker.logs
      .filter((l) => l.msg === "retry:leftover-topics")
      .map((l) => [l.handler, l.topics])
      .sort(),
  ).toEqual([
    ["in-place", [leftovers[1]]],
    ["shortened", [leftovers[0]]],
  ]);
  worker.proc.kill("SIGTERM");
  expect(await worker.exited).toBe(0);
  await sql.unsafe(`drop table ${table}`);
}, 120_000);
