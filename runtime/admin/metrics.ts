import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";
import type { BuildInfo } from "../build-info.ts";
import type { OutboxBacklog } from "../db/sql/outbox.ts";
import type { HandlerStatus } from "../engine-controls.ts";
import type { EngineEvents } from "../engine-events.ts";

export interface MetricsSources {
  /** Handlers with their partitions' lag; undefined while the engine is starting. */
  handlers(): Promise<HandlerStatus[]> | undefined;
  /** Inbox rows per handler (technical dedup state kept until pruned). */
  inboxRows(): Promise<Array<{ handler: string; rows: number }>> | undefined;
  /** Unsent outbox rows, the age of the oldest (ms) and the rows set aside; undefined while the engine is starting. */
  outbox?(): Promise<OutboxBacklog> | undefined;
  /** Assigned partitions that have not advanced for FERRY_PARTITION_STALL_MS, per handler. */
  stalled(): Array<{ handler: string; topic: string; partition: number }>;
  /** ferry_build_info's labels; absent: no build info (unit tests). */
  build?: BuildInfo;
  /** Process metrics (CPU, memory, heap, event loop lag); off in unit tests that count series. */
  processMetrics?: boolean;
}

const seconds = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/**
 * Prometheus metrics, fed by engine events; lag and inbox size are read when scraped. A registry
 * per process (not prom-client's global one), so tests and embedders never share counters.
 */
export function createMetrics(events: EngineEvents, sources: MetricsSources): { contentType: string; render(): Promise<string> } {
  const registry = new Registry();
  const registers = [registry];
  // prom-client's process_* and nodejs_* series; under Bun the CPU, resident memory, file
  // descriptors, heap and event loop lag ones are real, the active handles/requests ones read 0.
  if (sources.processMetrics) collectDefaultMetrics({ register: registry });
  if (sources.build) {
    new Gauge({
      name: "ferry_build_info",
      help: "Always 1; the labels say which Ferry, commit, Bun and librdkafka this process runs",
      labelNames: ["version", "commit", "bun", "librdkafka"],
      registers,
    }).set({ ...sources.build }, 1);
  }
  const events_ = new Counter({
    name: "ferry_events_total",
    help: "Events dealt with, by handler and outcome (applied, technical-duplicate, functional-duplicate, dead-lettered)",
    labelNames: ["handler", "outcome"],
    registers,
  });
  const deadLettered = new Counter({
    name: "ferry_dead_letters_total",
    help: "Events sent to the dead letter topic, by handler and reason",
    labelNames: ["handler", "reason"],
    registers,
  });
  const logChanges = new Counter({
    name: "ferry_partition_log_changes_total",
    help: "Times the Kafka log under a partition changed: records-deleted (retention overtook the handler) or log-replaced (the topic was created again)",
    labelNames: ["handler", "topic", "kind"],
    registers,
  });
  const offsetsLost = new Counter({
    name: "ferry_offsets_lost_total",
    help: "Offsets Kafka deleted before the handler applied them (retention, deleteRecords): their events are lost to it",
    labelNames: ["handler", "topic"],
    registers,
  });
  const retried = new Counter({ name: "ferry_retries_total", help: "Retries scheduled after a failed handler attempt", labelNames: ["handler"], registers });
  const handlerSeconds = new Histogram({
    name: "ferry_handler_duration_seconds",
    help: "One call of handle (per event) or handleBatch (per batch)",
    labelNames: ["handler", "result"],
    buckets: seconds,
    registers,
  });
  const batchSeconds = new Histogram({
    name: "ferry_batch_duration_seconds",
    help: "One partition batch, fetch to PostgreSQL commit",
    labelNames: ["handler"],
    buckets: seconds,
    registers,
  });
  const batchSize = new Histogram({
    name: "ferry_batch_size",
    help: "Records per partition batch",
    labelNames: ["handler"],
    buckets: [1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000],
    registers,
  });
  const commitSeconds = new Histogram({
    name: "ferry_kafka_commit_duration_seconds",
    help: "Committing a partition's offset to Kafka",
    labelNames: ["handler"],
    buckets: seconds,
    registers,
  });
  new Gauge({
    name: "ferry_consumer_lag",
    help: "Records between the next offset PostgreSQL holds and the partition's end, for the partitions this process owns (summing over replicas counts each once)",
    labelNames: ["handler", "topic", "partition"],
    registers,
    async collect() {
      this.reset();
      for (const h of (await sources.handlers()) ?? []) {
        // Every replica sees every partition's lag: each reports only the ones it owns, so a sum over replicas is right.
        for (const p of h.partitions) if (p.assigned) this.set({ handler: h.name, topic: p.topic, partition: String(p.partition) }, p.lag);
      }
    },
  });
  new Gauge({
    name: "ferry_partitions_paused",
    help: "Partitions an operator paused, assigned to this process",
    labelNames: ["handler"],
    registers,
    async collect() {
      this.reset();
      for (const h of (await sources.handlers()) ?? []) this.set({ handler: h.name }, h.partitions.filter((p) => p.assigned && p.paused).length);
    },
  });
  new Gauge({
    name: "ferry_partition_stalled",
    help: "1 for each partition this process holds that has had records and not advanced for FERRY_PARTITION_STALL_MS",
    labelNames: ["handler", "topic", "partition"],
    registers,
    collect() {
      this.reset();
      for (const s of sources.stalled()) this.set({ handler: s.handler, topic: s.topic, partition: String(s.partition) }, 1);
    },
  });
  new Gauge({
    name: "ferry_inbox_rows",
    help: "Rows in the inbox (technical deduplication), by handler",
    labelNames: ["handler"],
    registers,
    async collect() {
      this.reset();
      for (const r of (await sources.inboxRows()) ?? []) this.set({ handler: r.handler }, r.rows);
    },
  });

  new Gauge({
    name: "ferry_outbox_backlog",
    help: "Events handlers published (ctx.publish) that the relay has not sent yet, across all replicas",
    registers,
    async collect() {
      const backlog = await sources.outbox?.();
      if (backlog) this.set(backlog.rows);
    },
  });
  new Gauge({
    name: "ferry_outbox_oldest_unsent_seconds",
    help: "Age of the oldest unsent outbox row (0 when none): above FERRY_OUTBOX_READY_AGE_MS, /readyz fails",
    registers,
    async collect() {
      const backlog = await sources.outbox?.();
      if (backlog) this.set(backlog.oldestMs / 1000);
    },
  });
  new Gauge({
    name: "ferry_outbox_failed",
    help: "Outbox rows set aside because Kafka refused the record itself (too large for its topic, invalid), across all replicas: never sent until an operator clears failed_at",
    registers,
    async collect() {
      const backlog = await sources.outbox?.();
      if (backlog) this.set(backlog.failed);
    },
  });
  const outboxFailed = new Counter({
    name: "ferry_outbox_failed_total",
    help: "Published events this process's relay set aside because Kafka refused the record itself",
    labelNames: ["handler", "topic"],
    registers,
  });
  events.on("outbox:refused", (e) => outboxFailed.inc({ handler: e.handler, topic: e.topic }));
  const outboxSent = new Counter({ name: "ferry_outbox_sent_total", help: "Outbox events this process's relay sent and Kafka acknowledged", registers });
  const outboxWaits = new Counter({ name: "ferry_outbox_waits_total", help: "Times this process's relay failed to send and waits", registers });
  const relaySeconds = new Histogram({
    name: "ferry_outbox_relay_seconds",
    help: "From the publishing transaction to Kafka's acknowledgement of the event, per event",
    buckets: seconds,
    registers,
  });
  events.on("outbox:sent", (e) => {
    outboxSent.inc(e.events);
    for (const ms of e.latenciesMs) relaySeconds.observe(ms / 1000);
  });
  events.on("outbox:waiting", () => outboxWaits.inc());

  events.on("batch:applied", (b) => {
    const outcomes = { applied: b.applied, "technical-duplicate": b.technicalDuplicates, "functional-duplicate": b.functionalDuplicates };
    for (const [outcome, n] of Object.entries(outcomes)) if (n > 0) events_.inc({ handler: b.handler, outcome }, n);
    batchSeconds.observe({ handler: b.handler }, b.durationMs / 1000);
    batchSize.observe({ handler: b.handler }, b.records);
  });
  events.on("event:dead-lettered", (e) => {
    // A functional duplicate has its own outcome (from the batch); it is also a dead letter by reason.
    if (e.reason !== "functional-duplicate") events_.inc({ handler: e.handler, outcome: "dead-lettered" });
    deadLettered.inc({ handler: e.handler, reason: e.reason });
  });
  events.on("event:retry-scheduled", (e) => retried.inc({ handler: e.handler }));
  events.on("partition:log-changed", (c) => {
    logChanges.inc({ handler: c.handler, topic: c.topic, kind: c.kind });
    if (c.skipped > 0) offsetsLost.inc({ handler: c.handler, topic: c.topic }, c.skipped);
  });
  events.on("handler:called", (c) => handlerSeconds.observe({ handler: c.handler, result: c.ok ? "ok" : "error" }, c.durationMs / 1000));
  events.on("offsets:committed", (c) => commitSeconds.observe({ handler: c.handler }, c.durationMs / 1000));

  return { contentType: registry.contentType, render: () => registry.metrics() };
}
