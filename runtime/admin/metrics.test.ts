import { expect, test } from "bun:test";
import { createEngineEvents } from "../engine-events.ts";
import { createMetrics } from "./metrics.ts";

test("counters follow engine events; lag and inbox size are read at scrape time", async () => {
  const events = createEngineEvents();
  let lag = 7;
  const metrics = createMetrics(events, {
    handlers: async () => [
      {
        name: "totals",
        file: "totals.ts",
        topics: ["orders"],
        groupId: "ferry.totals",
        state: "running",
        partitions: [
          { topic: "orders", partition: 0, assigned: true, paused: true, next: "3", end: "10", lag },
          // Another replica's: its lag is that replica's to report.
          { topic: "orders", partition: 1, assigned: false, paused: false, next: "0", end: "5", lag: 5 },
        ],
      },
    ],
    inboxRows: async () => [{ handler: "totals", rows: 42 }],
    outbox: async () => ({ rows: 4, oldestMs: 2_500, failed: 1 }),
    stalled: () => [{ handler: "totals", topic: "orders", partition: 0 }],
    build: { version: "0.1.0", commit: "abc123", bun: "1.4.5", librdkafka: "2.15.1" },
    processMetrics: true,
  });
  const where = { handler: "totals", topic: "orders", partition: 0 };
  events.emit("batch:applied", {
    ...where,
    records: 5,
    skipped: 0,
    applied: 3,
    technicalDuplicates: 1,
    functionalDuplicates: 1,
    deadLettered: 1,
    durationMs: 12,
  });
  events.emit("event:dead-lettered", { ...where, reason: "functional-duplicate" });
  events.emit("event:dead-lettered", { ...where, reason: "permanent" });
  events.emit("event:retry-scheduled", { ...where, offset: "4", attempt: 2, delayMs: 200 });
  events.emit("handler:called", { handler: "totals", durationMs: 2, ok: true });
  events.emit("offsets:committed", { ...where, offset: "5", durationMs: 3 });
  events.emit("outbox:sent", { events: 2, sendMs: 4, latenciesMs: [3, 8] });
  events.emit("outbox:waiting", { retryInMs: 500, errorClass: "KafkaError", error: "broker down" });
  events.emit("outbox:refused", { eventId: "e-1", topic: "invoices", handler: "invoicing", code: "ERR_MSG_SIZE_TOO_LARGE", reason: "too large" });
  const text = await metrics.render();
  expect(metrics.contentType).toStartWith("text/plain; version=0.0.4");
  for (const line of [
    'ferry_events_total{handler="totals",outcome="applied"} 3',
    'ferry_events_total{handler="totals",outcome="technical-duplicate"} 1',
    'ferry_events_total{handler="totals",outcome="functional-duplicate"} 1',
    'ferry_events_total{handler="totals",outcome="dead-lettered"} 1',
    'ferry_dead_letters_total{handler="totals",reason="functional-duplicate"} 1',
    'ferry_retries_total{handler="totals"} 1',
    'ferry_handler_duration_seconds_count{handler="totals",result="ok"} 1',
    'ferry_batch_size_sum{handler="totals"} 5',
    'ferry_kafka_commit_duration_seconds_count{handler="totals"} 1',
    'ferry_consumer_lag{handler="totals",topic="orders",partition="0"} 7',
    'ferry_partitions_paused{handler="totals"} 1',
    'ferry_inbox_rows{handler="totals"} 42',
    'ferry_partition_stalled{handler="totals",topic="orders",partition="0"} 1',
    "ferry_outbox_backlog 4",
    "ferry_outbox_oldest_unsent_seconds 2.5",
    "ferry_outbox_failed 1",
    'ferry_outbox_failed_total{handler="invoicing",topic="invoices"} 1',
    "ferry_outbox_sent_total 2",
    "ferry_outbox_waits_total 1",
    'ferry_outbox_relay_seconds_bucket{le="0.005"} 1',
    "ferry_outbox_relay_seconds_count 2",
    'ferry_build_info{version="0.1.0",commit="abc123",bun="1.4.5",librdkafka="2.15.1"} 1',
  ])
    expect(text).toContain(line);
  expect(text).not.toContain('ferry_consumer_lag{handler="totals",topic="orders",partition="1"}');
  // Process metrics, as prom-client reads them under Bun.
  for (const name of ["process_cpu_seconds_total", "process_resident_memory_bytes", "nodejs_heap_size_used_bytes", "nodejs_eventloop_lag_p99_seconds"]) {
    const value = Number(
      text
        .split("\n")
        .find((l) => l.startsWith(`${name} `))
        ?.split(" ")[1],
    );
    expect(value).toBeGreaterThan(name === "nodejs_eventloop_lag_p99_seconds" ? -1 : 0);
  }
  lag = 0;
  expect(await metrics.render()).toContain('ferry_consumer_lag{handler="totals",topic="orders",partition="0"} 0');
});
