import { expect, test } from "bun:test";
import { adminClient } from "../support/admin.ts";
import { useScenarios } from "../support/suite.ts";
import { waitFor } from "../support/wait.ts";

const suite = useScenarios();

const event = (topic: string, n: number, fail?: string) => ({
  topic,
  key: "k",
  value: JSON.stringify({ n, key: `${topic}-b-${n}`, seq: 1, ...(fail ? { fail } : {}) }),
  headers: { "event-id": `${topic}-${n}` },
});

test("an operator's pause of a partition outlasts the retry backoff that paused it first", async () => {
  const s = await suite.scenario("pause-retry", { partitions: 1, retry: "{ attempts: 5, backoffMs: 1500, maxBackoffMs: 1500 }" });
  const worker = s.start();
  const { port } = (await worker.waitForLog("http:listening")) as { port: number };
  const admin = adminClient(port);
  await waitFor("/readyz", async () => (await admin.get("/readyz")).status === 200);
  await suite.kafka().send([event(s.topic, 0, "transient")]); // fails attempts 1 and 2
  await worker.waitForLog("event:retry-scheduled");
  expect((await admin.post("/api/handlers/record-effect/pause", { topic: s.topic, partitions: [0] })).status).toBe(200);
  expect((await admin.json("/api/handlers")).handlers[0]).toMatchObject({ state: "partly-paused", partitions: [{ partition: 0, paused: true }] });
  await Bun.sleep(4_000); // past two backoffs: the retry's own resume must not undo the operator's pause
  expect(worker.logs.filter((l) => l.msg === "event:retry-scheduled")).toHaveLength(1);
  expect((await s.count()).rows).toBe(0);
  expect((await admin.post("/api/handlers/record-effect/resume", { topic: s.topic, partitions: [0] })).status).toBe(200);
  await waitFor("the event applied on its third attempt", async () => (await s.effects())[0]?.attempt === 3);
  expect(await s.count()).toEqual({ rows: 1, ids: 1 });
  worker.proc.kill("SIGTERM");
  expect(await worker.exited).toBe(0);
});

test("/healthz turns 503 with a reason when a batch runs past FERRY_HEALTH_STALL_MS", async () => {
  const s = await suite.scenario("stall", { partitions: 1, timeoutMs: 120_000 });
  const worker = s.start({ FERRY_HEALTH_STALL_MS: "1000" });
  const { port } = (await worker.waitForLog("http:listening")) as { port: number };
  const admin = adminClient(port);
  await waitFor("/readyz", async () => (await admin.get("/readyz")).status === 200);
  expect((await admin.get("/healthz")).status).toBe(200); // idle by design
  await suite.kafka().send([event(s.topic, 0, "hang")]);
  const stalled = await waitFor("/healthz 503", async () => {
    const res = await admin.get("/healthz");
    return res.status === 503 ? ((await res.json()) as { ok: boolean; reasons: string[]; batchesInFlight: number }) : null;
  });
  expect(stalled).toMatchObject({ ok: false, batchesInFlight: 1 });
  expect(stalled.reasons[0]).toMatch(new RegExp(`^handler record-effect: batch of ${s.topic}/0 has been running for \\d+ s \\(limit 1 s\\)$`));
});
