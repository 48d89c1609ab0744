/**
 * One lane per assigned partition. Fetched records wait in their lane in offset order, and each
 * lane hands them to the handler a batch at a time, concurrently with the other lanes up to a
 * limit. A lane that is slow, retrying or paused holds up only itself: the fetcher keeps filling
 * the others and stops fetching a partition whose lane is full (back-pressure per partition).
 *
 * This is why Ferry fetches for itself instead of using the KafkaJS layer of the client: that
 * layer fetches again only once every partition's batch is released, so one slow transaction
 * stalled every partition of the worker (bench/README.md).
 */
import { finishedWithin } from "../finished-within.ts";
import { partitionKey, type BatchProgress, type KafkaRecord, type PartitionBatch, type TopicPartition } from "../kafka/port.ts";
import { checkArrival, type LogChange } from "./log-changes.ts";

export interface PartitionLanes {
  /** A partition was assigned: records from `nextOffset` on (or whatever comes first) are taken. */
  open(tp: TopicPartition, options?: { nextOffset?: string; held?: boolean }): void;
  /**
   * The partitions were revoked: nothing new starts, buffered records are dropped, and a batch in
   * flight gets `waitMs` to finish. One still running after that is marked stale (it must not
   * commit anything to Kafka) and left to end on its own.
   */
  close(tps: TopicPartition[], waitMs: number): Promise<void>;
  /** Records from the fetcher, any partitions, each partition's in offset order. */
  push(records: KafkaRecord[]): void;
  /**
   * An operator's pause (true) or resume (false): a held lane starts no batch and fetches nothing,
   * and the batch under way is told to stop (its `stopping` signal).
   */
  setHeld(tp: TopicPartition, held: boolean): void;
  assigned(): TopicPartition[];
  /** Starts no more batches and waits for the ones in flight (a graceful stop). */
  drain(): Promise<void>;
  /**
   * Lanes that want records, have none and are behind their partition's high watermark (or never
   * heard of it), and got nothing for `idleMs`: the client holds nothing more for them yet, or is
   * not fetching what they asked for (starvation.ts tells which).
   */
  waiting(now: number, idleMs: number): WaitingPartition[];
  /**
   * The offsets below `offset` hold nothing for the application (transaction markers, aborted
   * records): a waiting lane's next offset moves there. False when the lane is gone or took records since.
   */
  movePast(tp: TopicPartition, offset: string): boolean;
  /** Batches under way for longer than `ms`, each reported once: nothing else says a partition waits on one. */
  longRunning(now: number, ms: number): LongRunningBatch[];
  /**
   * The leader says the log was not replaced after all (`onLogChanged`): the lane takes records
   * again. Returns its next offset, to fetch again from (what came meanwhile was dropped).
   */
  notReplaced(tp: TopicPartition): string | undefined;
}

export interface LongRunningBatch extends TopicPartition {
  runningMs: number;
  records: number;
  firstOffset: string;
}

export interface WaitingPartition extends TopicPartition {
  nextOffset: string;
  /** "unknown" when the client never saw the partition's end. */
  highWatermark: string;
  idleMs: number;
}

export interface LaneDeps {
  maxBatchSize: number;
  concurrency: number;
  /** Records a lane may buffer before its partition stops being fetched (it resumes at half). */
  capacity: number;
  /**
   * The same for a lane whose turn is not near (no batch under way, not among the next
   * `concurrency` to run); `capacity` when absent. With many more partitions than batches at once,
   * most lanes wait long for their turn: what they buffer meanwhile is memory held, not speed.
   */
  farCapacity?: number;
  deliver(batch: PartitionBatch): Promise<BatchProgress>;
  /** Start (true) or stop (false) fetching a partition. */
  setFetching(tp: TopicPartition, fetching: boolean): void;
  highWatermark(tp: TopicPartition): string;
  /** The partition's log start as the client last saw it, "-1" when unknown. */
  logStart?(tp: TopicPartition): string;
  /**
   * Records arrived that show the log changed under the lane (log-changes.ts `checkArrival`):
   * records deleted unread (the lane goes on past them), or the log replaced (its records are held
   * back: the lane must be opened again from the new log's start). Once per change.
   */
  onLogChanged?(tp: TopicPartition, change: Exclude<LogChange, { kind: "in-range" }>): void;
  /** A batch threw (not a retry the handler asked for): returns how long the lane waits before redelivering it. */
  onBatchFailed(tp: TopicPartition, error: unknown, failures: number): number;
}

interface Lane {
  readonly tp: TopicPartition;
  records: KafkaRecord[];
  /** The next offset the fetcher should deliver; records below it are repeats and dropped. */
  nextOffset: number | undefined;
  inFlight: Promise<void> | undefined;
  /** When the batch under way started, and whether it was reported as running long. */
  inFlightSince: number;
  inFlightReported: boolean;
  /** Aborts the batch under way's `stopping` signal (revocation, pause, drain). */
  stopping: AbortController | undefined;
  /** How many of `records` the batch under way holds. */
  inFlightRecords: number;
  waiting: ReturnType<typeof setTimeout> | undefined;
  held: boolean;
  closed: boolean;
  stale: boolean;
  fetching: boolean;
  queued: boolean;
  failures: number;
  /** When a record last arrived (or the lane opened, or moved past offsets without records). */
  lastRecordAt: number;
  /**
   * The log looked replaced under the lane: it takes nothing more until it is opened again (or the
   * leader says otherwise), so no record of the new log is applied before the ones below it.
   */
  replaced: boolean;
}

export function createPartitionLanes(deps: LaneDeps): PartitionLanes {
  const lanes = new Map<string, Lane>();
  const runnable: Lane[] = [];
  let active = 0;
  let draining = false;

  const ready = (lane: Lane) => !draining && !lane.closed && !lane.held && lane.records.length > 0 && !lane.inFlight && !lane.waiting;

  const kick = (lane: Lane) => {
    if (!ready(lane) || lane.queued) return;
    lane.queued = true;
    runnable.push(lane);
  };

  const pump = () => {
    while (active < deps.concurrency && runnable.length > 0) {
      const lane = runnable.shift()!;
      lane.queued = false;
      if (ready(lane)) run(lane);
    }
    // The lanes that moved up to the next turns fill up for them.
    if (deps.farCapacity !== undefined) for (let i = 0; i < Math.min(deps.concurrency, runnable.length); i++) updateFetching(runnable[i]!);
  };

  const near = (lane: Lane) => {
    if (lane.inFlight || lane.inFlightRecords > 0) return true;
    const at = runnable.indexOf(lane);
    return at >= 0 && at < deps.concurrency;
  };

  // Hysteresis: stop at capacity, start again at half, so a busy lane does not flap. Records in
  // the batch under way do not count: the lane fetches the batch after it while that one runs.
  const updateFetching = (lane: Lane) => {
    if (lane.closed) return;
    const waiting = lane.records.length - lane.inFlightRecords;
    const capacity = deps.farCapacity === undefined || near(lane) ? deps.capacity : deps.farCapacity;
    const want = !lane.held && waiting < (lane.fetching ? capacity : capacity / 2);
    if (want === lane.fetching) return;
    lane.fetching = want;
    deps.setFetching(lane.tp, want);
  };

  const dropBelow = (lane: Lane, offset: number) => {
    let done = 0;
    while (done < lane.records.length && Number(lane.records[done]!.offset) < offset) done++;
    lane.records = lane.records.slice(done);
  };

  const wait = (lane: Lane, ms: number) => {
    lane.waiting = setTimeout(() => {
      lane.waiting = undefined;
      kick(lane);
      pump();
    }, ms);
  };

  const run = (lane: Lane) => {
    // A copy: the fetcher keeps appending to the lane while the handler works on the batch.
    const records = lane.records.slice(0, deps.maxBatchSize);
    const stopping = new AbortController();
    lane.stopping = stopping;
    const batch: PartitionBatch = {
      topic: lane.tp.topic,
      partition: lane.tp.partition,
      records,
      highWatermark: deps.highWatermark(lane.tp),
      isStale: () => lane.stale,
      stopping: stopping.signal,
    };
    active++;
    lane.inFlightRecords = records.length;
    lane.inFlightSince = Date.now();
    lane.inFlightReported = false;
    updateFetching(lane);
    lane.inFlight = (async () => {
      try {
        const progress = await deps.deliver(batch);
        lane.failures = 0;
        if (lane.closed) return;
        if (!progress) {
          dropBelow(lane, Number(records[records.length - 1]!.offset) + 1);
        } else {
          dropBelow(lane, Number(progress.stopAt));
          wait(lane, progress.resumeAfterMs);
        }
      } catch (e) {
        if (lane.closed || draining) return;
        wait(lane, deps.onBatchFailed(lane.tp, e, ++lane.failures));
      } finally {
        active--;
        lane.inFlight = undefined;
        lane.stopping = undefined;
        lane.inFlightRecords = 0;
        kick(lane);
        updateFetching(lane);
        pump();
      }
    })();
  };

  return {
    open(tp, options = {}) {
      const lane: Lane = {
        tp: { topic: tp.topic, partition: tp.partition },
        records: [],
        nextOffset: options.nextOffset === undefined ? undefined : Number(options.nextOffset),
        inFlight: undefined,
        inFlightSince: 0,
        inFlightReported: false,
        stopping: undefined,
        inFlightRecords: 0,
        waiting: undefined,
        held: options.held ?? false,
        closed: false,
        stale: false,
        fetching: true,
        queued: false,
        failures: 0,
        lastRecordAt: Date.now(),
        replaced: false,
      };
      lanes.set(partitionKey(tp), lane);
      updateFetching(lane);
    },

    async close(tps, waitMs) {
      const closing: Lane[] = [];
      for (const tp of tps) {
        const lane = lanes.get(partitionKey(tp));
        if (!lane) continue;
        lanes.delete(partitionKey(tp));
        lane.closed = true;
        lane.records = [];
        clearTimeout(lane.waiting);
        lane.waiting = undefined;
        lane.stopping?.abort();
        closing.push(lane);
      }
      const inFlight = closing.flatMap((l) => (l.inFlight ? [l.inFlight] : []));
      if (inFlight.length > 0) await finishedWithin(Promise.all(inFlight), waitMs);
      for (const lane of closing) if (lane.inFlight) lane.stale = true;
    },

    push(records) {
      const touched = new Set<Lane>();
      let lane: Lane | undefined;
      for (const record of records) {
        if (lane?.tp.partition !== record.partition || lane.tp.topic !== record.topic) lane = lanes.get(partitionKey(record));
        // A partition no longer assigned (revoked while the fetch was under way): its next owner reads it.
        if (!lane || lane.closed || lane.replaced) continue;
        const offset = Number(record.offset);
        if (lane.nextOffset !== undefined && offset !== lane.nextOffset && deps.onLogChanged) {
          const change = checkArrival(lane.nextOffset, offset, { logStart: deps.logStart?.(lane.tp) ?? "-1", logEnd: deps.highWatermark(lane.tp) });
          if (change.kind === "log-replaced") {
            lane.replaced = true;
            deps.onLogChanged(lane.tp, change);
            continue;
          }
          if (change.kind === "records-deleted") deps.onLogChanged(lane.tp, change);
        }
        if (lane.nextOffset !== undefined && offset < lane.nextOffset) continue;
        lane.nextOffset = offset + 1;
        lane.records.push(record);
        touched.add(lane);
      }
      const now = Date.now();
      for (const l of touched) {
        l.lastRecordAt = now;
        kick(l);
        updateFetching(l);
      }
      pump();
    },

    setHeld(tp, held) {
      const lane = lanes.get(partitionKey(tp));
      if (!lane || lane.held === held) return;
      lane.held = held;
      // A batch running events side by side stops starting them: the pause holds at once, not
      // after the batch's last key is done (which a retry's backoff can make a long time).
      if (held) lane.stopping?.abort();
      updateFetching(lane);
      kick(lane);
      pump();
    },

    assigned: () => [...lanes.values()].map((l) => l.tp),

    waiting(now, idleMs) {
      const found: WaitingPartition[] = [];
      for (const lane of lanes.values()) {
        if (lane.closed || lane.held || !lane.fetching || lane.records.length > 0 || lane.inFlight || lane.waiting) continue;
        if (lane.nextOffset === undefined || now - lane.lastRecordAt <= idleMs) continue;
        // An end the client never saw: it has not fetched the partition since the lane opened.
        const seen = deps.highWatermark(lane.tp);
        const highWatermark = /^\d+$/.test(seen) ? seen : "unknown";
        if (highWatermark !== "unknown" && BigInt(highWatermark) <= BigInt(lane.nextOffset)) continue;
        found.push({ ...lane.tp, nextOffset: String(lane.nextOffset), highWatermark, idleMs: now - lane.lastRecordAt });
      }
      return found;
    },

    movePast(tp, offset) {
      const lane = lanes.get(partitionKey(tp));
      if (!lane || lane.closed || lane.records.length > 0 || lane.inFlight || lane.nextOffset === undefined) return false;
      if (Number(offset) <= lane.nextOffset) return false;
      lane.nextOffset = Number(offset);
      lane.lastRecordAt = Date.now();
      return true;
    },

    longRunning(now, ms) {
      const found: LongRunningBatch[] = [];
      for (const lane of lanes.values()) {
        if (!lane.inFlight || lane.inFlightReported || now - lane.inFlightSince <= ms) continue;
        lane.inFlightReported = true;
        found.push({ ...lane.tp, runningMs: now - lane.inFlightSince, records: lane.inFlightRecords, firstOffset: lane.records[0]?.offset ?? "" });
      }
      return found;
    },

    notReplaced(tp) {
      const lane = lanes.get(partitionKey(tp));
      if (!lane?.replaced) return undefined;
      lane.replaced = false;
      lane.lastRecordAt = Date.now();
      return lane.nextOffset === undefined ? undefined : String(lane.nextOffset);
    },

    async drain() {
      draining = true;
      runnable.length = 0;
      for (const lane of lanes.values()) {
        clearTimeout(lane.waiting);
        lane.stopping?.abort();
      }
      await Promise.all([...lanes.values()].flatMap((l) => (l.inFlight ? [l.inFlight] : [])));
    },
  };
}
