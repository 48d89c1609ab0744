import { expect, test } from "bun:test";
import { randomUUID } from "node:crypto";
import { adminClient } from "../support/admin.ts";
import { runFerry } from "../support/ferry-process.ts";
import { startFixableWorker } from "../support/fixable.ts";
import { writeHandlersDir } from "../support/handlers.ts";
import { useScenarios } from "../support/suite.ts";
import { waitFor } from "../support/wait.ts";

const suite = useScenarios();
const { sql } = suite;

const traceId = randomUUID().replaceAll("-", "");
const traceparent = `00-${traceId}-00f067aa0ba902b7-01`;

test("health, metrics and the admin API of a running worker: pause grows lag, resume drains it, dead letters are browsed and replayed", async () => {
  const s = await suite.scenario("operate", { partitions: 2 });
  const { events, fix, worker, port, admin } = await startFixableWorker(s, sql);
  const anonymous = adminClient(port);

  const health = await anonymous.get("/healthz");
  expect(health.status).toBe(200);
  expect(await health.json()).toMatchObject({ ok: true, reasons: [], state: "running", batchesInFlight: expect.any(Number) });
  await waitFor("/readyz to answer 200", async () => (await anonymous.get("/readyz")).status === 200);

  const refused = await anonymous.get("/api/handlers");
  expect(refused.status).toBe(401);
  expect(await refused.json()).toEqual({ error: "the admin API needs Authorization: Bearer <FERRY_ADMIN_TOKEN>" });
  expect((await adminClient(port, "not-the-token-at-all").get("/api/handlers")).status).toBe(401);
  const listed = await admin.json("/api/handlers");
  expect(listed.handlers).toMatchObject([{ name: "record-effect", topics: [s.topic], groupId: s.groupId, state: "running" }]);

  const applied = `ferry_events_total{handler="record-effect",outcome="applied"}`;
  expect(await admin.metric(applied)).toBe(0);
  // Every test's handler is named record-effect and shares the database's inbox: count the growth.
  const inboxRows = `ferry_inbox_rows{handler="record-effect"}`;
  const inboxBefore = await admin.metric(inboxRows);
  await suite.kafka().send([...events(0, 1, {}, { traceparent }), ...events(1, 10)]);
  await waitFor("10 effects", async () => (await s.count()).rows === 10);
  await waitFor("the applied counter at 10", async () => (await admin.metric(applied)) === 10);
  expect(await admin.metric(`ferry_handler_duration_seconds_count{handler="record-effect",result="ok"}`)).toBe(10);
  // The inbox count is cached for 10 s between scrapes.
  await waitFor("10 more inbox rows", async () => (await admin.metric(inboxRows)) >= inboxBefore + 10, { timeoutMs: 20_000, intervalMs: 1_000 });
  // The handler's own log line continues the event's trace.
  // The handler runs in the event's trace: its log line carries it, and OpenTelemetry's active span is in it.
  expect(worker.logs.find((l) => l.msg === "effect:handling" && l.n === 0)).toMatchObject({ traceId, activeTraceId: traceId });
  expect(worker.logs.find((l) => l.msg === "effect:handling" && l.n === 1)).not.toHaveProperty("traceId");

  // Pause: new events wait, lag grows; resume: they apply, lag returns to 0.
  expect((await admin.post("/api/handlers/record-effect/pause")).status).toBe(200);
  expect((await admin.json("/api/handlers")).handlers[0].state).toBe("paused");
  await suite.kafka().send(events(10, 30));
  await waitFor("lag of 20 while paused", async () => (await admin.lag("record-effect")) === 20);
  await Bun.sleep(1_500); // a paused handler must not apply anything, however long it waits
  expect((await s.count()).rows).toBe(10);
  const lagSeries = (await (await anonymous.get("/metrics")).text()).split("\n").filter((l) => l.startsWith("ferry_consumer_lag{"));
  expect(lagSeries.reduce((n, l) => n + Number(l.split(" ")[1]), 0)).toBe(20);
  expect((await admin.post("/api/handlers/record-effect/resume")).status).toBe(200);
  await waitFor("30 effects after resume", async () => (await s.count()).rows === 30);
  await waitFor("lag back to 0", async () => (await admin.lag("record-effect")) === 0);

  // A dead letter, browsed with its decoded value, failure headers and trace.
  await suite.kafka().send(events(30, 31, { fail: "until-fixed" }, { traceparent }));
  const deadLetterId = `${s.topic}-30`;
  await waitFor("the dead-letter counter", async () => (await admin.metric(`ferry_dead_letters_total{handler="record-effect",reason="permanent"}`)) === 1);
  expect(worker.logs.find((l) => l.msg === "event:dead-lettering")).toMatchObject({ eventId: deadLetterId, traceId });
  const { deadLetters } = await admin.json("/api/handlers/record-effect/dead-letters");
  expect(deadLetters).toHaveLength(1);
  expect(deadLetters[0]).toMatchObject({
    eventId: deadLetterId,
    reason: "permanent",
    errorClass: "PermanentError",
    errorMessage: "event 30 waits for a fix",
    source: { topic: s.topic, offset: expect.any(String) },
    value: { n: 30, fail: "until-fixed" },
    headers: { "event-id": deadLetterId, traceparent },
    traceId,
  });

  const replay = (dryRun?: boolean) =>
    admin.json(`/api/handlers/record-effect/dead-letters/replay`, { eventIds: [deadLetterId], ...(dryRun === undefined ? {} : { dryRun }) });
  expect(await replay()).toMatchObject({ dryRun: true, results: [{ eventId: deadLetterId, outcome: "failed", detail: "event 30 waits for a fix" }] });
  await fix();
  expect(await replay()).toMatchObject({ dryRun: true, results: [{ outcome: "would-apply" }] });
  expect((await s.count()).rows).toBe(30);
  expect(await replay(false)).toMatchObject({ dryRun: false, results: [{ outcome: "applied" }] });
  expect(await replay(false)).toMatchObject({ results: [{ outcome: "already-applied" }] });
  expect((await s.count()).rows).toBe(31);
  expect((await admin.post("/api/handlers/record-effect/dead-letters/replay", { eventIds: ["no-such-event"] })).status).toBe(409);

  worker.proc.kill("SIGTERM");
  expect(await worker.exited).toBe(0);
  expect(await s.count()).toEqual({ rows: 31, ids: 31 });
});

test("refuses to start with the admin API on a non-loopback host without a token", async () => {
  const dir = writeHandlersDir({});
  const run = await runFerry(["run", "--handlers", dir], { FERRY_HTTP_HOST: "0.0.0.0" });
  expect(run.code).toBe(2);
  expect(run.output).toContain("FERRY_HTTP_HOST=0.0.0.0 would expose the admin API beyond this machine without a token: set FERRY_ADMIN_TOKEN");
});
