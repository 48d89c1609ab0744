/**
 * The consumer side of the librdkafka adapter: librdkafka's own KafkaConsumer (the node-rdkafka
 * style API of @confluentinc/kafka-javascript) behind the narrow ConsumerClient of port.ts. It
 * knows librdkafka's calls, settings, error codes and message shape; the fetch loop, lanes and
 * rebalance handling over it live in consume/lane-consumer.ts.
 */
import type { LibrdKafkaError, Message } from "@confluentinc/kafka-javascript";
import { CODES, KafkaConsumer } from "@confluentinc/kafka-javascript";
import { coerceError, KafkaError } from "../errors.ts";
import type { Logger } from "../log/logger.ts";
import { asKafkaError } from "./errors.ts";
import { createFatalCheck } from "./fatal-check.ts";
import { createFetchWaits, type FetchWaits } from "./fetch-waits.ts";
import { type ConsumerClient, type ConsumerClientHooks, type KafkaRecord, partitionKey, type TopicPartition, type TopicPartitionOffset } from "./port.ts";

const ERR = CODES.ERRORS as Record<string, number>;

/** The part of librdkafka's consumer Ferry uses; the package's typings lack the cooperative and callback calls. */
interface RdKafkaConsumer {
  connect(options: object, cb: (err: LibrdKafkaError | null) => void): void;
  disconnect(cb: (err: LibrdKafkaError | null) => void): void;
  subscribe(topics: string[]): void;
  unsubscribe(): void;
  consume(count: number, cb: (err: LibrdKafkaError | null, messages: Message[]) => void): void;
  setDefaultConsumeTimeout(ms: number): void;
  setDefaultIsTimeoutOnlyForFirstMessage(firstOnly: boolean): void;
  incrementalAssign(partitions: Array<TopicPartition & { offset?: number }>): void;
  incrementalUnassign(partitions: TopicPartition[]): void;
  assignmentLost(): boolean;
  pause(partitions: TopicPartition[]): void;
  resume(partitions: TopicPartition[]): void;
  seek(position: TopicPartition & { offset: number }, timeoutMs: number, cb: (err: LibrdKafkaError | null) => void): void;
  commitCb(offsets: Array<TopicPartition & { offset: number }>, cb: (err: LibrdKafkaError | null) => void): void;
  /** Throws the LibrdKafkaError librdkafka answered with. */
  commitSync(offsets: Array<TopicPartition & { offset: number }>): void;
  committed(
    partitions: TopicPartition[],
    timeoutMs: number,
    cb: (err: LibrdKafkaError | null, result: Array<TopicPartition & { offset?: number }>) => void,
  ): void;
  getWatermarkOffsets(topic: string, partition: number): { highOffset: number; lowOffset: number };
  queryWatermarkOffsets(
    topic: string,
    partition: number,
    timeoutMs: number,
    cb: (err: LibrdKafkaError | null, offsets?: { highOffset: number; lowOffset: number }) => void,
  ): void;
  position(partitions: TopicPartition[]): Array<TopicPartition & { offset?: number }>;
  getMetadata(options: { topic: string; allTopics: false; timeout: number }, cb: (err: LibrdKafkaError | null) => void): void;
  on(event: "event.error", listener: (e: LibrdKafkaError) => void): void;
}

/**
 * How Ferry's consumer fetches; bench/raw.ts reads with the same settings, so the raw ceiling
 * measures this client as Ferry configures it.
 */
export const fetchSettings = {
  "enable.auto.commit": false,
  "enable.auto.offset.store": false,
  "partition.assignment.strategy": "cooperative-sticky",
  // Bounded prefetch: librdkafka's queue is most of a busy worker's memory (default 64 MiB).
  // A partition over the bound waits fetch.queue.backoff.ms before its next fetch: at the
  // default 1 s a bare consumer read 22k records/s, at 20 ms 81-91k (bench/README.md).
  "queued.max.messages.kbytes": 8_192,
  "fetch.queue.backoff.ms": 20,
} as const;
/** How long one fetch call waits for a first record: also how soon a stop is noticed. */
export const FETCH_WAIT_MS = 100;
/**
 * The wake-up request after a resume. Past a second it is useless (the broker thread's own loop has
 * seen the resume by then), and each one holds a worker thread of the addon while it waits: a
 * leader that does not answer must not tie up the threads the fetches need.
 */
const WAKE_TIMEOUT_MS = 1_000;
/** How often a static member asks librdkafka whether it was fenced (fatal-check.ts). */
const FATAL_CHECK_MS = 1_000;

/** A consumer group member's liveness settings and identity (config/consumer-settings.ts validates them). */
export interface GroupMembership {
  sessionTimeoutMs: number;
  heartbeatIntervalMs: number;
  maxPollIntervalMs: number;
  /** Static membership (KIP-345): the same id in each handler's group. */
  groupInstanceId?: string;
}

/** Ferry's defaults: a dead member's partitions move after 10 s; no static membership. */
export const defaultMembership: GroupMembership = { sessionTimeoutMs: 10_000, heartbeatIntervalMs: 1_000, maxPollIntervalMs: 300_000 };

export function createRdKafkaClient(
  clientConfig: Record<string, unknown>,
  groupId: string,
  hooks: ConsumerClientHooks,
  log: Logger,
  membership: GroupMembership = defaultMembership,
  // The process's consumers share Bun's worker threads: one waits in `consume`, the others poll.
  waits: FetchWaits = createFetchWaits({ maxWaitMs: FETCH_WAIT_MS }),
): ConsumerClient {
  const consumer: RdKafkaConsumer = new KafkaConsumer(
    {
      ...clientConfig,
      "group.id": groupId,
      ...fetchSettings,
      "session.timeout.ms": membership.sessionTimeoutMs,
      "heartbeat.interval.ms": membership.heartbeatIntervalMs,
      "max.poll.interval.ms": membership.maxPollIntervalMs,
      ...(membership.groupInstanceId ? { "group.instance.id": membership.groupInstanceId } : {}),
      // Called from inside consume(): what to do is the fetch loop's, told through the hooks.
      rebalance_cb: (err: LibrdKafkaError, assignment: TopicPartition[]) => {
        const partitions = assignment.map((p) => ({ topic: p.topic, partition: p.partition }));
        if (err.code === ERR.ERR__ASSIGN_PARTITIONS) hooks.onRebalance({ kind: "assign", partitions, lost: false });
        else if (err.code === ERR.ERR__REVOKE_PARTITIONS) hooks.onRebalance({ kind: "revoke", partitions, lost: consumer.assignmentLost() });
        else log.warn("consumer:rebalance-error", { group: groupId, code: err.code, error: coerceError(err) });
      },
    } as never,
    { "auto.offset.reset": "earliest" },
  ) as unknown as RdKafkaConsumer;
  /** Partitions whose wake-up request (see resume) is still out: one at a time each. */
  const waking = new Set<string>();
  /** Empty polls in a row of a fetch that did not wait in `consume`: its JavaScript-side wait grows with them. */
  let idlePolls = 0;
  // The binding does not expose rd_kafka_fatal_error(). An empty commit changes nothing, and
  // librdkafka refuses it with ERR__FATAL once it raised a fatal error (ERR__NO_OFFSET otherwise).
  // Synchronous (commitCb only queues a commit): a round trip to librdkafka's own thread, as
  // incrementalAssign's, no request to a broker. Only a static member can be fenced.
  const fatalCheck = membership.groupInstanceId
    ? createFatalCheck({ intervalMs: FATAL_CHECK_MS, ask: () => consumer.commitSync([]), isFatal: (e) => (e as LibrdKafkaError).code === ERR.ERR__FATAL })
    : undefined;
  const failureOf = (error: LibrdKafkaError) => {
    const settingProblem = explainGroupError(error, groupId, membership);
    if (settingProblem) return { error: settingProblem, fatal: true };
    return { error: asKafkaError(error, "fetching"), fatal: error.isFatal === true || error.code === ERR.ERR__FATAL };
  };
  consumer.on("event.error", (e: LibrdKafkaError) => log.warn("kafka:client-error", { group: groupId, code: e.code, error: coerceError(e) }));

  return {
    connect: () =>
      new Promise<void>((resolve, reject) =>
        consumer.connect({}, (err) => {
          if (!err) return resolve();
          reject(asKafkaError(err, `connecting consumer group ${groupId}`));
        }),
      ),
    subscribe(topics) {
      // Wait for the first record only: take what is ready and hand it over.
      consumer.setDefaultIsTimeoutOnlyForFirstMessage(true);
      consumer.subscribe(topics);
    },
    fetch: (max) =>
      new Promise((resolve) => {
        const fatal = fatalCheck?.check(performance.now()) as LibrdKafkaError | undefined;
        // Waiting in `consume` holds one of the process's few worker threads (fetch-waits.ts).
        const blocking = waits.tryBlock();
        consumer.setDefaultConsumeTimeout(blocking ? FETCH_WAIT_MS : 0);
        consumer.consume(max, (error, messages) => {
          if (blocking) waits.release();
          const records = (messages ?? []).map(toRecord);
          if (!error || error.code === ERR.ERR__TIMED_OUT) {
            if (fatal) return resolve({ records, failure: failureOf(fatal) });
            idlePolls = records.length > 0 || blocking ? 0 : idlePolls + 1;
            if (idlePolls === 0) return resolve({ records, failure: null });
            setTimeout(() => resolve({ records, failure: null }), waits.idleSleepMs(idlePolls));
            return;
          }
          resolve({ records, failure: failureOf(error) });
        });
      }),
    assign: (positions) =>
      consumer.incrementalAssign(
        positions.map((p) => (p.offset === undefined ? { topic: p.topic, partition: p.partition } : { ...p, offset: Number(p.offset) })),
      ),
    unassign: (partitions) => consumer.incrementalUnassign(partitions),
    pause: (partitions) => consumer.pause(partitions),
    resume(partitions) {
      consumer.resume(partitions);
      // librdkafka does not wake the broker thread that fetches a resumed partition: a thread with
      // nothing to fetch (its partitions paused, the lanes full) sleeps up to 1 s
      // (rd_kafka_max_block_ms) before it sees the resume. A drain paused and resumed every lane
      // each ~2 batches and waited ~0.5 s each time. A request to the partition's leader is an op
      // on that thread: it wakes and fetches at once. Its answer is not needed.
      for (const p of partitions) {
        const key = partitionKey(p);
        if (waking.has(key)) continue;
        waking.add(key);
        consumer.queryWatermarkOffsets(p.topic, p.partition, WAKE_TIMEOUT_MS, () => waking.delete(key));
      }
    },
    seek(position) {
      // Timeout 0: librdkafka queues the seek for the partition's fetcher and returns at once.
      consumer.seek({ topic: position.topic, partition: position.partition, offset: Number(position.offset) }, 0, (err) => {
        if (err) log.warn("consumer:seek-failed", { group: groupId, partition: partitionKey(position), offset: position.offset, error: coerceError(err) });
      });
    },
    commit: (offsets) =>
      new Promise<void>((resolve, reject) =>
        consumer.commitCb(
          offsets.map((o) => ({ topic: o.topic, partition: o.partition, offset: Number(o.offset) })),
          (err) => (err ? reject(asKafkaError(err, "committing offsets")) : resolve()),
        ),
      ),
    committed: (partitions, timeoutMs) =>
      new Promise<TopicPartitionOffset[]>((resolve, reject) =>
        consumer.committed(partitions, timeoutMs, (err, result) => {
          if (err) return reject(asKafkaError(err, "reading committed offsets"));
          // Partitions without a commit come back with a negative offset (or none).
          resolve(
            result
              .filter((p) => typeof p.offset === "number" && p.offset >= 0)
              .map((p) => ({ topic: p.topic, partition: p.partition, offset: String(p.offset) })),
          );
        }),
      ),
    fetchPosition(tp) {
      try {
        const [position] = consumer.position([{ topic: tp.topic, partition: tp.partition }]);
        return typeof position?.offset === "number" && position.offset >= 0 ? String(position.offset) : "-1";
      } catch {
        return "-1";
      }
    },
    stableEnd: (tp, timeoutMs) =>
      new Promise<string>((resolve, reject) =>
        consumer.queryWatermarkOffsets(tp.topic, tp.partition, timeoutMs, (err, offsets) =>
          err || !offsets
            ? reject(asKafkaError(err ?? new Error("no offsets"), `reading the end of ${partitionKey(tp)}`))
            : resolve(String(offsets.highOffset)),
        ),
      ),
    highWatermark(tp) {
      try {
        return String(consumer.getWatermarkOffsets(tp.topic, tp.partition).highOffset);
      } catch {
        return "-1";
      }
    },
    // librdkafka keeps the log start each fetch response carries (the broker's LogStartOffset).
    logStart(tp) {
      try {
        return String(consumer.getWatermarkOffsets(tp.topic, tp.partition).lowOffset);
      } catch {
        return "-1";
      }
    },
    logBounds: (tp, timeoutMs) =>
      new Promise((resolve, reject) =>
        consumer.queryWatermarkOffsets(tp.topic, tp.partition, timeoutMs, (err, offsets) =>
          err || !offsets
            ? reject(asKafkaError(err ?? new Error("no offsets"), `reading the log start and end of ${partitionKey(tp)}`))
            : resolve({ logStart: String(offsets.lowOffset), logEnd: String(offsets.highOffset) }),
        ),
      ),
    // A subscribed topic that did not exist stays in librdkafka's metadata cache as missing until its
    // next periodic refresh (topic.metadata.refresh.interval.ms, 5 minutes). A metadata request of
    // our own refreshes that entry, and the group's next join attempt (every second) takes the topic up.
    async refreshMetadata(topics, timeoutMs) {
      for (const topic of topics) {
        await new Promise<void>((resolve, reject) =>
          consumer.getMetadata({ topic, allTopics: false, timeout: timeoutMs }, (err) =>
            err ? reject(asKafkaError(err, `reading the metadata of topic ${topic}`)) : resolve(),
          ),
        );
      }
    },
    unsubscribe: () => consumer.unsubscribe(),
    staticMember: membership.groupInstanceId !== undefined,
    disconnect: () => new Promise<void>((resolve) => consumer.disconnect(() => resolve())),
  };
}

/**
 * Group errors that no retry can fix, because a setting is wrong: the fetch loop stops and the
 * message names the setting. A fenced static member reaches the fetch loop only as librdkafka's
 * generic ERR__FATAL (the binding does not expose rd_kafka_fatal_error()); for a consumer with an
 * instance id that is what it means (a consumer has no other fatal errors in the classic protocol).
 */
function explainGroupError(error: LibrdKafkaError, groupId: string, membership: GroupMembership): KafkaError | undefined {
  const text = `${error.message ?? ""}`;
  if (error.code === ERR.ERR_INVALID_SESSION_TIMEOUT) {
    return new KafkaError(
      `group ${groupId}: the brokers refuse FERRY_KAFKA_SESSION_TIMEOUT_MS=${membership.sessionTimeoutMs}: it must lie within their group.min.session.timeout.ms and group.max.session.timeout.ms (6000 and 1800000 by default)`,
      { cause: error, code: "ERR_INVALID_SESSION_TIMEOUT", retriable: false },
    );
  }
  const fenced = error.code === ERR.ERR_FENCED_INSTANCE_ID || /FENCED_INSTANCE_ID|fenced/i.test(text);
  if (membership.groupInstanceId && (fenced || error.code === ERR.ERR__FATAL || error.isFatal === true)) {
    return new KafkaError(
      `group ${groupId}: this consumer was fenced (${text || "a fatal error"}): another worker joined with the same FERRY_KAFKA_GROUP_INSTANCE_ID=${membership.groupInstanceId}; each replica needs an id of its own (e.g. its pod name in a StatefulSet)`,
      { cause: error, code: "ERR_FENCED_INSTANCE_ID", retriable: false },
    );
  }
  return undefined;
}

function toRecord(m: Message): KafkaRecord {
  const headers: Record<string, Buffer> = {};
  let repeated: string[] | undefined;
  for (const header of m.headers ?? []) {
    // for-in, not Object.entries: no array per header, on every record.
    for (const name in header) {
      const raw = (header as Record<string, unknown>)[name];
      const value = typeof raw === "string" ? Buffer.from(raw) : (raw as Buffer);
      const before = headers[name];
      if (before !== undefined && !before.equals(value)) (repeated ??= []).includes(name) || repeated.push(name);
      headers[name] = value;
    }
  }
  return {
    topic: m.topic,
    partition: m.partition,
    offset: String(m.offset),
    key: m.key === undefined || m.key === null ? null : typeof m.key === "string" ? Buffer.from(m.key) : m.key,
    value: m.value ?? null,
    headers,
    ...(repeated ? { repeatedHeaders: repeated } : {}),
    timestamp: m.timestamp ?? 0,
  };
}
