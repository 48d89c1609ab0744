import type { TopicPartition } from "./kafka/port.ts";

/**
 * What the engine tells the world. Metrics, /healthz progress and the admin API subscribe to these;
 * the engine never knows who listens. Names are `noun:past-verb`.
 */
export interface EngineEventMap {
  "batch:started": { handler: string; topic: string; partition: number; records: number };
  "batch:applied": {
    handler: string;
    topic: string;
    partition: number;
    records: number;
    /** Below PostgreSQL's offset: applied before a crash between the two commits. */
    skipped: number;
    applied: number;
    technicalDuplicates: number;
    functionalDuplicates: number;
    deadLettered: number;
    durationMs: number;
  };
  /**
   * A batch that runs events side by side (key-level concurrency) is moving: an event of it is
   * done, or one waits out a backoff by design. Such a batch lasts as long as its longest key,
   * so liveness looks at this, not at how long the batch has run. At most once a second.
   */
  "batch:progressed": { handler: string; topic: string; partition: number };
  /** The batch ended without finishing (stale, stopping, or a failure that is not the event's). */
  "batch:failed": { handler: string; topic: string; partition: number; durationMs: number };
  "event:dead-lettered": { handler: string; topic: string; partition: number; reason: string };
  "event:retry-scheduled": {
    handler: string;
    topic: string;
    partition: number;
    offset: string;
    attempt: number;
    delayMs: number;
    /** Retry topics: where the event waits (the partition moved on); absent when it waits in place. */
    retryTopic?: string;
    errorClass?: string;
    errorCode?: string;
    error?: string;
  };
  /** The environment failed (database, broker, registry, a deploy problem): the partition waits at `offset`, nothing spent. */
  "partition:waiting": {
    handler: string;
    topic: string;
    partition: number;
    offset: string;
    retryInMs: number;
    source: string;
    errorClass: string;
    errorCode?: string;
    error: string;
  };
  /**
   * The Kafka log under a partition changed (consume/log-changes.ts). `records-deleted`: offsets
   * `from` to `to` were deleted before the handler applied them (`skipped` of them, lost to it);
   * `log-replaced`: the log ends below `from`, the offset held, and is read again from `to`.
   */
  "partition:log-changed": {
    handler: string;
    topic: string;
    partition: number;
    kind: "records-deleted" | "log-replaced";
    from: string;
    to: string;
    skipped: number;
  };
  /** A partition with records to apply has not advanced for longer than FERRY_PARTITION_STALL_MS. */
  "partition:stalled": { handler: string; topic: string; partition: number; offset: string | null; since: number; errorClass?: string; error?: string };
  /** A stalled partition advanced again (or was revoked or paused). */
  "partition:recovered": { handler: string; topic: string; partition: number; stalledMs: number };
  /** One call of a handler's `handle` (per event) or `handleBatch` (per batch). */
  "handler:called": { handler: string; durationMs: number; ok: boolean };
  "offsets:committed": { handler: string; topic: string; partition: number; offset: string; durationMs: number };
  /** A handler's consume loop ended with an error: it delivers nothing until the handler is restarted or swapped. */
  "consumer:failed": { handler: string; message: string };
  "partitions:assigned": { handler: string; partitions: TopicPartition[] };
  "partitions:revoked": { handler: string; partitions: TopicPartition[] };
  "handler:paused": { handler: string; topic?: string; partitions?: number[] };
  "handler:resumed": { handler: string; topic?: string; partitions?: number[] };
  /** Hot-add: a handler file was loaded and subscribed, swapped for a new version, or unsubscribed. */
  "handler:added": { handler: string; file: string };
  "handler:replaced": { handler: string; file: string };
  "handler:removed": { handler: string; file: string };
  "handler:rejected": { file: string; problems: string[] };
  /** The outbox relay sent published events; `latenciesMs`: each one's time from its transaction to Kafka's acknowledgement. */
  "outbox:sent": { events: number; sendMs: number; latenciesMs: number[] };
  /** The outbox relay failed (database or broker): it tries again after `retryInMs`; `topic`: only that topic's events wait (Kafka refuses it). */
  "outbox:waiting": { retryInMs: number; errorClass: string; error: string; topic?: string };
  /** Kafka refused a published record for what it is: its outbox row is set aside, the events after it go on. */
  "outbox:refused": { eventId: string; topic: string; handler: string; code: string; reason: string };
}

export type EngineEventName = keyof EngineEventMap;
type Listener<K extends EngineEventName> = (payload: EngineEventMap[K]) => void;

export interface EngineEvents {
  on<K extends EngineEventName>(name: K, listener: Listener<K>): () => void;
  /** Never throws: a failing listener is reported to `onListenerError` and the engine goes on. */
  emit<K extends EngineEventName>(name: K, payload: EngineEventMap[K]): void;
}

/**
 * A typed emitter whose `emit` can never throw into the engine: a subscriber's bug must not stop
 * a batch, skip a commit or kill the worker.
 */
export function createEngineEvents(onListenerError: (name: string, error: unknown) => void = () => {}): EngineEvents {
  const listeners = new Map<EngineEventName, Set<Listener<never>>>();
  return {
    on(name, listener) {
      const set = listeners.get(name) ?? new Set();
      set.add(listener as Listener<never>);
      listeners.set(name, set);
      return () => set.delete(listener as Listener<never>);
    },
    emit(name, payload) {
      for (const listener of listeners.get(name) ?? []) {
        try {
          (listener as Listener<typeof name>)(payload);
        } catch (e) {
          try {
            onListenerError(name, e);
          } catch {
            // The error reporter itself failed: there is nobody left to tell, and the engine must go on.
          }
        }
      }
    },
  };
}
