/**
 * Hostile input: each kind ends in the dead letter topic with its precise reason, the partition it
 * sits in keeps flowing, and the worker never crashes. One worker runs three handlers (JSON keyed
 * by payload, JSON keyed by the Kafka key, Avro); every hostile record sits between good ones in
 * a single partition, so one blocked record would hold up everything after it.
 */
import { afterAll, expect, test } from "bun:test";
import { randomUUID } from "node:crypto";
import avro from "avsc";
import { testSql } from "../support/db.ts";
import { testServices } from "../support/env.ts";
import { startFerry } from "../support/ferry-process.ts";
import { writeHandlersDir } from "../support/handlers.ts";
import { testRegistry } from "../support/registry.ts";
import { waitFor } from "../support/wait.ts";
import { check, type Intent } from "./support/checker.ts";
import { actingHandler, avroHandler, hostileEffectsMigration, kafkaKeyedHandler, pingSchema } from "./support/hostile-handlers.ts";
import { faultKafka, type FaultRecord } from "./support/kafka.ts";
import { keepLog, reportCounts } from "./support/report.ts";

const kafka = faultKafka(testServices().brokers);
const sql = testSql();
const registry = testRegistry();
afterAll(async () => {
  await registry.cleanup();
  await kafka.close();
  await sql.end();
});

const wire = (schemaId: number, payload: Buffer) => {
  const header = Buffer.alloc(5);
  header.writeUInt32BE(schemaId, 1);
  return Buffer.concat([header, payload]);
};
const deadLetter = (reason: string, messagePrefix?: string): Intent => ({ kind: "dead-letter", reason, ...(messagePrefix ? { messagePrefix } : {}) });
const nonUtf8 = Buffer.from([0xc3, 0x28, 0xff]);

interface Kind {
  label: string;
  record: Omit<FaultRecord, "topic" | "eventId" | "intent"> & { eventId?: string | null };
  expect: Intent;
}

test("every kind of hostile input is dead-lettered with its precise reason; no partition blocks, the worker never restarts", async () => {
  const id = randomUUID().slice(0, 8);
  const [jsonTopic, keyedTopic, avroTopic] = (await Promise.all(["hostile-json", "hostile-keyed", "hostile-avro"].map((p) => kafka.createTopic(p, 1)))) as [
    string,
    string,
    string,
  ];
  const table = `hostile_${id}`;
  const ping = avro.Type.forSchema(pingSchema as never);
  registry.track(`${avroTopic}-value`);
  const pingId = (await registry.client.register(`${avroTopic}-value`, JSON.stringify(pingSchema))).id;
  const otherSchema = { type: "record", name: "Other", namespace: "ferry.faults", fields: [{ name: "flag", type: "boolean" }] };
  const otherId = (await registry.client.register(registry.subject(`hostile-other-${id}`), JSON.stringify(otherSchema))).id;
  const pingBytes = (n: number) => ping.toBuffer({ n, key: `${avroTopic}-k${n}` });
  /** A Ping whose key is these raw bytes (under 64 of them: a one-byte length). */
  const pingWithRawKey = (n: number, key: Buffer) => Buffer.concat([ping.toBuffer({ n, key: "" }).subarray(0, -1), Buffer.from([key.length * 2]), key]);
  const invalidUtf8Key = (tail: number[]) => Buffer.concat([Buffer.from(`${avroTopic}-utf8-`), Buffer.from(tail)]);

  const json = (n: number, extra: Record<string, unknown> = {}) => JSON.stringify({ n, key: `${jsonTopic}-k${n}`, ...extra });
  const jsonKinds: Kind[] = [
    { label: "invalid JSON", record: { value: "{not json" }, expect: deadLetter("decode-failed", "invalid-json:") },
    { label: "non-UTF-8 value", record: { value: nonUtf8 }, expect: deadLetter("decode-failed", "invalid-utf8:") },
    { label: "empty value", record: { value: Buffer.alloc(0) }, expect: deadLetter("decode-failed", "empty-value:") },
    { label: "null value (tombstone)", record: { value: null }, expect: deadLetter("decode-failed", "empty-value:") },
    {
      label: "JSON nested 100,000 deep (parses, has no business key)",
      record: { value: "[".repeat(100_000) + "]".repeat(100_000) },
      expect: deadLetter("business-key-failed", "businessKey returned undefined"),
    },
    { label: "oversized value (1,040,000 bytes)", record: { value: "x".repeat(1_040_000) }, expect: deadLetter("decode-failed", "invalid-json:") },
    { label: "no event-id header", record: { value: json(1), eventId: null }, expect: deadLetter("missing-event-id") },
    { label: "empty event-id header", record: { value: json(2), eventId: null, headers: { "event-id": "" } }, expect: deadLetter("missing-event-id") },
    {
      label: "event-id with a space",
      record: { value: json(3), eventId: null, headers: { "event-id": "has a space" } },
      expect: deadLetter("malformed-event-id"),
    },
    {
      label: "event-id of 201 characters",
      record: { value: json(4), eventId: null, headers: { "event-id": "e".repeat(201) } },
      expect: deadLetter("malformed-event-id"),
    },
    { label: "event-id not UTF-8", record: { value: json(5), eventId: null, headers: { "event-id": nonUtf8 } }, expect: deadLetter("malformed-event-id") },
    {
      label: "event-id with a newline",
      record: { value: json(6), eventId: null, headers: { "event-id": "line\nbreak" } },
      expect: deadLetter("malformed-event-id"),
    },
    {
      label: "two different event-id headers",
      record: { value: json(7), eventId: null, headers: { "event-id": [`${jsonTopic}-twice-a`, `${jsonTopic}-twice-b`] } },
      expect: deadLetter("malformed-event-id"),
    },
    { label: "JSON null value", record: { value: "null" }, expect: deadLetter("business-key-failed") },
    { label: "payload without its business key", record: { value: JSON.stringify({ n: 8 }) }, expect: deadLetter("business-key-failed") },
    { label: "another payload without its business key", record: { value: JSON.stringify({ n: 9 }) }, expect: deadLetter("business-key-failed") },
    { label: "second event for a business key", record: { value: json(10, { key: `${jsonTopic}-k0` }) }, expect: deadLetter("functional-duplicate") },
    // JSON.parse rounds it to ...992: it would share a key with any other id that rounds alike.
    {
      label: "business key an integer beyond 2^53",
      record: { value: '{"n": 22, "key": 9007199254740993}' },
      expect: deadLetter("business-key-failed", "businessKey returned 9007199254740992"),
    },
    { label: "handler throws", record: { value: json(11, { act: "throw" }) }, expect: deadLetter("exhausted", "event 11 is poison") },
    { label: "handler throws ctx.permanent", record: { value: json(12, { act: "permanent" }) }, expect: deadLetter("permanent", "event 12 can never apply") },
    {
      label: "handler hangs past its timeout",
      record: { value: json(13, { act: "hang" }) },
      expect: deadLetter("exhausted", "the handler did not finish within 600 ms"),
    },
    {
      label: "handler throws a string",
      record: { value: json(14, { act: "throw-string" }) },
      expect: deadLetter("exhausted", "non-Error value thrown: a plain string"),
    },
    {
      label: "handler throws undefined",
      record: { value: json(15, { act: "throw-undefined" }) },
      expect: deadLetter("exhausted", "non-Error value thrown: undefined"),
    },
    {
      label: "handler throws an unprintable value",
      record: { value: json(16, { act: "throw-unprintable" }) },
      expect: deadLetter("exhausted", "non-Error value thrown"),
    },
    {
      label: "handler rejects after its timeout",
      record: { value: json(17, { act: "reject-late" }) },
      expect: deadLetter("exhausted", "the handler did not finish within 600 ms"),
    },
    {
      label: "handler writes a missing table",
      record: { value: json(18, { act: "missing-table" }) },
      expect: deadLetter("exhausted", 'relation "ferry_faults_no_such_table" does not exist'),
    },
    { label: "handler statement past its timeout", record: { value: json(19, { act: "slow-sql" }) }, expect: deadLetter("exhausted") },
    { label: "handler leaves a rejection nobody awaits (applied)", record: { value: json(20, { act: "floating-rejection" }) }, expect: { kind: "apply" } },
    { label: "handler leaves a timer that throws (applied)", record: { value: json(21, { act: "timer-throws" }) }, expect: { kind: "apply" } },
  ];
  const keyedKinds: Kind[] = [
    {
      label: "null Kafka key where the business key needs one",
      record: { key: null, value: JSON.stringify({ n: 1 }) },
      expect: deadLetter("business-key-failed"),
    },
    // Once given to the handler in base64 ("wyj/"): the same text as a good record's key would have merged the two.
    {
      label: "Kafka key not UTF-8 where the business key is the Kafka key",
      record: { key: nonUtf8, value: JSON.stringify({ n: 2 }) },
      expect: deadLetter("business-key-failed", "businessKey returned null"),
    },
  ];
  const avroKinds: Kind[] = [
    {
      label: "Avro: bad magic byte",
      record: { value: Buffer.concat([Buffer.from([1]), wire(pingId, pingBytes(1)).subarray(1)]) },
      expect: deadLetter("decode-failed", "bad-magic-byte:"),
    },
    { label: "Avro: unknown schema id", record: { value: wire(2_000_000_000, pingBytes(2)) }, expect: deadLetter("decode-failed", "unknown-schema-id:") },
    {
      label: "Avro: truncated payload",
      record: { value: wire(pingId, pingBytes(3).subarray(0, 2)) },
      expect: deadLetter("decode-failed", "truncated-payload:"),
    },
    { label: "Avro: truncated header", record: { value: Buffer.from([0, 0, 0]) }, expect: deadLetter("decode-failed", "truncated-header:") },
    {
      label: "Avro: valid Avro of another schema",
      record: { value: wire(otherId, avro.Type.forSchema(otherSchema as never).toBuffer({ flag: true })) },
      expect: deadLetter("decode-failed", "schema-mismatch:"),
    },
    // avsc alone decoded both keys to the same string with U+FFFD: the first was applied under a key that is not its
    // own, the second dead-lettered as a functional duplicate of an order it has nothing to do with.
    {
      label: "Avro: a business key ending in invalid UTF-8 ff fe 41",
      record: { value: wire(pingId, pingWithRawKey(5, invalidUtf8Key([0xff, 0xfe, 0x41]))) },
      expect: deadLetter("decode-failed", "invalid-utf8: field key "),
    },
    {
      label: "Avro: the same key ending in fe ff 41 instead",
      record: { value: wire(pingId, pingWithRawKey(6, invalidUtf8Key([0xfe, 0xff, 0x41]))) },
      expect: deadLetter("decode-failed", "invalid-utf8: field key "),
    },
    {
      label: "Avro: trailing bytes",
      record: { value: wire(pingId, Buffer.concat([pingBytes(4), Buffer.from([7, 7, 7])])) },
      expect: deadLetter("decode-failed", "trailing-bytes:"),
    },
  ];

  // Good events around every hostile one: the first claims business key k0, the last proves the partition still flows.
  const labels = new Map<FaultRecord, string>();
  const build = (topic: string, kinds: Kind[], good: (n: number) => Omit<FaultRecord, "topic" | "intent" | "eventId">) => {
    const records: FaultRecord[] = [];
    let n = 0;
    const goodRecord = () => {
      const eventId = `${topic}-good-${n}`;
      const base = good(n++);
      return { topic, key: "k", ...base, headers: { "event-id": eventId }, eventId, intent: { kind: "apply" } as Intent };
    };
    records.push(goodRecord());
    kinds.forEach((kind, i) => {
      const eventId = kind.record.eventId === undefined ? `${topic}-hostile-${i}` : kind.record.eventId;
      const record: FaultRecord = { topic, key: "k", headers: eventId === null ? {} : { "event-id": eventId }, ...kind.record, eventId, intent: kind.expect };
      labels.set(record, kind.label);
      records.push(record, goodRecord());
    });
    return records;
  };
  const all = [
    ...build(jsonTopic, jsonKinds, (n) => ({ value: json(n === 0 ? 0 : 1000 + n) })),
    ...build(keyedTopic, keyedKinds, (n) => ({ key: `${keyedTopic}-key-${n}`, value: JSON.stringify({ n }) })),
    ...build(avroTopic, avroKinds, (n) => ({ value: wire(pingId, pingBytes(100 + n)) })),
  ];

  const dir = writeHandlersDir(
    { "acting.ts": actingHandler(jsonTopic, table), "kafka-keyed.ts": kafkaKeyedHandler(keyedTopic, table), "ping-avro.ts": avroHandler(avroTopic, table) },
    { [`0001_${table}.sql`]: hostileEffectsMigration(table) },
  );
  const groupPrefix = `hostile-${id}`;
  const worker = startFerry(["run", "--handlers", dir, "--group-prefix", groupPrefix], { FERRY_SCHEMA_REGISTRY_URL: registry.url });
  const producer = await kafka.ackProducer({ maxMessageBytes: 2_000_000 });
  try {
    await worker.waitForLog("engine:running", 90_000);
    const started = Date.now();
    for (const topic of [jsonTopic, keyedTopic, avroTopic]) await producer.send(all.filter((r) => r.topic === topic));
    expect(producer.produced.filter((p) => !p.ack)).toEqual([]);
    const groups: Array<[string, string]> = [
      [`${groupPrefix}.acting`, jsonTopic],
      [`${groupPrefix}.kafka-keyed`, keyedTopic],
      [`${groupPrefix}.ping-avro`, avroTopic],
    ];
    await waitFor("every partition committed to its end", async () => (await Promise.all(groups.map(([g, t]) => kafka.caughtUp(g, t)))).every(Boolean), {
      timeoutMs: 120_000,
      intervalMs: 250,
    });
    const elapsedMs = Date.now() - started;

    const applied = (await sql<{ event_id: string }[]>`select event_id from ${sql(table)}`).map((r) => ({ eventId: r.event_id }));
    const letters = (
      await Promise.all([jsonTopic, keyedTopic, avroTopic].map((t) => kafka.readDeadLetters(`${t}.dlt`).then((ls) => ls.map((l) => ({ ...l, topic: t })))))
    ).flat();
    // Coordinates are per topic: check each topic on its own, then add up.
    const reports = [jsonTopic, keyedTopic, avroTopic].map((t) =>
      check(
        producer.produced.filter((_p, i) => all[i]!.topic === t),
        applied.filter((a) => a.eventId.startsWith(t)),
        letters.filter((l) => l.topic === t),
      ),
    );
    const byKind = all.flatMap((r, i) => {
      const label = labels.get(r);
      const ack = producer.produced[i]!.ack!;
      if (!label) return [];
      const letter = letters.find((l) => l.topic === r.topic && l.sourcePartition === ack.partition && l.sourceOffset === ack.offset);
      const outcome = letter?.reason ?? (applied.some((a) => a.eventId === r.eventId) ? "(applied)" : "(neither)");
      return [{ kind: label, reason: outcome, message: letter?.errorMessage?.slice(0, 100) ?? "" }];
    });
    const sum = (
      field: "acknowledged" | "applied" | "duplicates" | "missing" | "unexpected" | "deadLetterMissing" | "deadLetterUnexpected" | "deadLetterRepeats",
    ) => reports.reduce((total, r) => total + r[field], 0);
    const deadLettered: Record<string, number> = {};
    for (const r of reports) for (const [reason, n] of Object.entries(r.deadLettered)) deadLettered[reason] = (deadLettered[reason] ?? 0) + n;
    const restarts = worker.logs.filter((l) => l.msg === "engine:running").length - 1;
    reportCounts("hostile-input", {
      kinds: byKind.length,
      acknowledged: sum("acknowledged"),
      applied: sum("applied"),
      duplicates: sum("duplicates"),
      missing: sum("missing"),
      unexpected: sum("unexpected"),
      deadLettered,
      deadLetterMissing: sum("deadLetterMissing"),
      deadLetterWrong: reports.flatMap((r) => r.deadLetterWrong),
      deadLetterRepeats: sum("deadLetterRepeats"),
      restarts,
      elapsedMs,
    });
    console.table(byKind);
    expect(byKind.length).toBeGreaterThanOrEqual(20);
    expect(reports.flatMap((r) => r.deadLetterWrong)).toEqual([]);
    expect(reports.every((r) => r.ok)).toBe(true);
    expect(worker.proc.exitCode).toBeNull();
    expect(restarts).toBe(0);
  } finally {
    await producer.close();
    worker.proc.kill("SIGTERM");
    await worker.exited;
    keepLog("hostile-input", worker.output());
    await sql.unsafe(`drop table if exists ${table}`);
  }
});
