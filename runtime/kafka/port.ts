import type { Logger } from "../log/logger.ts";

/**
 * The narrow Kafka interface the rest of Ferry uses. Only kafka/confluent.ts knows which client
 * library sits behind it, so the client can be swapped (e.g. when upstream gains Bun support).
 */

export interface KafkaRecord {
  topic: string;
  partition: number;
  /** Decimal string: Kafka offsets are 64-bit. */
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  /** Header values as raw bytes; a repeated header keeps its last value. */
  headers: Record<string, Buffer>;
  /** Names of headers the record carries more than once with different values. */
  repeatedHeaders?: string[];
  /** Milliseconds since the epoch. */
  timestamp: number;
}

export interface OutgoingRecord {
  topic: string;
  key?: Buffer | string | null;
  value: Buffer | string | null;
  headers?: Record<string, Buffer | string>;
  partition?: number;
}

export interface TopicPartition {
  topic: string;
  partition: number;
}

/** "topic:partition": a partition as a map key and in log fields. */
export const partitionKey = (tp: TopicPartition) => `${tp.topic}:${tp.partition}`;

export interface TopicPartitionOffset extends TopicPartition {
  /** The next offset to consume, decimal string. */
  offset: string;
}

/** A batch of records of ONE partition, in offset order. */
export interface PartitionBatch {
  topic: string;
  partition: number;
  records: KafkaRecord[];
  highWatermark: string;
  /** True once the partition was revoked or the batch otherwise went stale: stop, do not commit. */
  isStale(): boolean;
  /**
   * Aborted as soon as the partition is being revoked, an operator pauses it or the consumer
   * drains (a graceful stop): a batch that runs events side by side starts no more of them, and
   * lets the ones running finish; the rest is delivered again (or to the next owner).
   */
  stopping: AbortSignal;
}

export interface ConsumerOptions {
  groupId: string;
  topics: string[];
  /** Upper bound of records per batch handed to `eachBatch`. */
  maxBatchSize: number;
  /** How many partitions are processed at the same time. */
  partitionConcurrency: number;
  /**
   * Called when partitions are assigned, before fetching starts. Returns positions to start from
   * where Ferry knows better than the group's committed offsets (its own offsets table).
   */
  onAssign?(partitions: TopicPartition[], context?: { logReplaced?: boolean }): Promise<TopicPartitionOffset[]>;
  /**
   * Called when partitions are revoked, after their batches in flight finished (or went stale),
   * before they are handed back: the last moment to commit for them. `lost`: the group already
   * gave them to another member (session timeout), so there is nothing to commit.
   */
  onRevoke?(partitions: TopicPartition[], context: { lost: boolean }): void | Promise<void>;
  /**
   * The client read past offsets that hold nothing for the application (transaction markers,
   * aborted records) and the partition has nothing else waiting: its next offset is `position`.
   */
  onMovedPast?(position: TopicPartitionOffset): void | Promise<void>;
  /**
   * Records of the partition were deleted before the lane read them (retention, deleteRecords): the
   * client went on from the log start. Reported, never silent. (A replaced log is reported through
   * `onAssign` with `logReplaced`: the partition is opened again.)
   */
  onLogChanged?(tp: TopicPartition, change: { kind: "records-deleted"; from: string; to: string; skipped: string }): void | Promise<void>;
  /** The consume loop ended with an error: no more batches come from this consumer. */
  onFailure?(error: Error): void;
}

/**
 * What became of a batch. `undefined`: every record is done. `stopAt`: records from that offset on
 * were not processed; the partition pauses for `resumeAfterMs` and then redelivers from `stopAt`
 * (a retry that waits without holding up other partitions).
 */
// biome-ignore lint/suspicious/noConfusingVoidType: a batch callback that returns nothing means "all done"
export type BatchProgress = void | { stopAt: string; resumeAfterMs: number };

export interface ConsumerPort {
  /** Connects, subscribes and starts delivering batches. Returns once running. */
  start(eachBatch: (batch: PartitionBatch) => Promise<BatchProgress>): Promise<void>;
  commit(offsets: TopicPartitionOffset[]): Promise<void>;
  /** An operator's pause (a whole topic when `partitions` is absent): it outlasts retry backoffs and re-assignments until resumed. */
  pause(partitions: Array<{ topic: string; partitions?: number[] }>): void;
  resume(partitions: Array<{ topic: string; partitions?: number[] }>): void;
  /** Whether an operator's pause holds this partition. */
  isPaused(topic: string, partition: number): boolean;
  assignment(): TopicPartition[];
  /** The group's committed offsets in Kafka for these partitions (absent: none committed). */
  committed(partitions: TopicPartition[], timeoutMs: number): Promise<TopicPartitionOffset[]>;
  /** The client reads these topics' metadata now: a subscribed topic created since is joined within a second. */
  refreshTopics(topics: string[]): Promise<void>;
  /** A partition's log start and end as its leader says now. */
  logBounds(tp: TopicPartition, timeoutMs: number): Promise<{ logStart: string; logEnd: string }>;
  /**
   * Stops fetching, waits for in-flight batches, leaves the group. `leaveGroup: false` keeps a
   * static member's partitions for it until its session times out (a restart takes them back at
   * once); a dynamic member always leaves.
   */
  stop(options?: { leaveGroup?: boolean }): Promise<void>;
}

/** A rebalance, as the client reports it from inside a fetch: the fetch loop decides what follows. */
export interface RebalanceEvent {
  kind: "assign" | "revoke";
  partitions: TopicPartition[];
  /** Revoked because the group already gave them to another member (session timeout): nothing to commit. */
  lost: boolean;
}

export interface ConsumerClientHooks {
  onRebalance(event: RebalanceEvent): void;
}

/**
 * The low-level consumer a Kafka adapter provides: one group member's calls, nothing more. The
 * fetch loop, lanes and rebalance handling over it are consume/lane-consumer.ts.
 */
export interface ConsumerClient {
  /** Fails with a KafkaError naming the cause. */
  connect(): Promise<void>;
  subscribe(topics: string[]): void;
  /** Up to `max` records, waiting briefly for the first; `failure` when the broker or client failed. */
  fetch(max: number): Promise<{ records: KafkaRecord[]; failure: { error: Error; fatal: boolean } | null }>;
  /** Incremental (cooperative): adds these partitions, from `offset` when given, else the group's commit. */
  assign(positions: Array<TopicPartition & { offset?: string }>): void;
  unassign(partitions: TopicPartition[]): void;
  pause(partitions: TopicPartition[]): void;
  resume(partitions: TopicPartition[]): void;
  /** Fetches an assigned partition from `offset` on (what the client holds of it beyond is dropped). */
  seek(position: TopicPartitionOffset): void;
  /** Resolves once the coordinator answered. */
  commit(offsets: TopicPartitionOffset[]): Promise<void>;
  committed(partitions: TopicPartition[], timeoutMs: number): Promise<TopicPartitionOffset[]>;
  /** The partition's end as last seen, "-1" when unknown. */
  highWatermark(tp: TopicPartition): string;
  /** The partition's log start (first offset not deleted) as last seen in a fetch, "-1" when unknown. */
  logStart(tp: TopicPartition): string;
  /** The partition's log start and end as the leader says now (consume/log-changes.ts). */
  logBounds(tp: TopicPartition, timeoutMs: number): Promise<{ logStart: string; logEnd: string }>;
  /**
   * The partition's end as the leader says now, for this consumer's isolation level: under
   * read_committed the last stable offset, short of the end while a producer's transaction is open.
   */
  stableEnd(tp: TopicPartition, timeoutMs: number): Promise<string>;
  /** The next offset the client will fetch (past transaction markers it skipped), "-1" when unknown. */
  fetchPosition(tp: TopicPartition): string;
  /** Reads these topics' metadata now, into the client's cache (its group joins a topic that appeared). */
  refreshMetadata(topics: string[], timeoutMs: number): Promise<void>;
  unsubscribe(): void;
  /**
   * Static membership: a disconnect without `unsubscribe` keeps the member's partitions for it
   * until its session times out (no LeaveGroup), so the same worker coming back takes them at once.
   */
  readonly staticMember: boolean;
  disconnect(): Promise<void>;
}

export interface ProducerPort {
  /** Resolves once every record is acknowledged by all in-sync replicas (acks=all). */
  send(records: OutgoingRecord[]): Promise<Array<TopicPartitionOffset>>;
  stop(): Promise<void>;
}

export interface TopicSpec {
  topic: string;
  partitions: number;
  replicationFactor: number;
  configs?: Record<string, string>;
}

export interface AdminPort {
  createTopics(topics: TopicSpec[]): Promise<void>;
  listTopics(): Promise<string[]>;
  fetchCommittedOffsets(groupId: string, topic: string): Promise<Array<{ partition: number; offset: string }>>;
  fetchTopicOffsets(topic: string): Promise<Array<{ partition: number; low: string; high: string }>>;
  /** Partition count of each existing topic among `topics`; missing topics are absent from the map. */
  partitionCounts(topics: string[]): Promise<Map<string, number>>;
  deleteTopics(topics: string[]): Promise<void>;
  stop(): Promise<void>;
}

export interface KafkaPort {
  /** Where the client's own lines go; consumers built over this port log there unless given another. */
  readonly log?: Logger;
  /** One consumer group member's low-level client; consume/lane-consumer.ts builds a ConsumerPort over it. */
  consumerClient(groupId: string, hooks: ConsumerClientHooks): ConsumerClient;
  producer(): Promise<ProducerPort>;
  admin(): Promise<AdminPort>;
}
