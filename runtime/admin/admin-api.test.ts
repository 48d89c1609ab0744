import { describe, expect, test } from "bun:test";
import type { EngineControls } from "../engine-controls.ts";
import { ControlRefusedError, UnknownHandlerError } from "../errors.ts";
import { createAdminApp } from "./app.ts";

const token = "test-token-0123456789";
const calls: unknown[][] = [];
const controls: EngineControls = {
  listHandlers: async () => [{ name: "totals", file: "/h/totals.ts", topics: ["orders"], groupId: "ferry.totals", state: "running", partitions: [] }],
  pause: (...args) => {
    if (args[0] !== "totals") throw new UnknownHandlerError(`no running handler is named "${args[0]}"`);
    if (args[1]?.topic === "nope") throw new ControlRefusedError('handler totals does not consume topic "nope"');
    calls.push(["pause", ...args]);
  },
  resume: (...args) => void calls.push(["resume", ...args]),
  deadLetters: async () => [],
  inboxRows: async () => [],
  outbox: async () => ({ rows: 3, oldestMs: 1_500, failed: 1, readyAgeMs: 60_000 }),
  replay: async (_handler, eventIds, dryRun) => eventIds.map((eventId) => ({ eventId, reason: "permanent", outcome: dryRun ? "would-apply" : "applied" })),
};
const app = createAdminApp({
  liveness: () => ({ ok: true, reasons: [] }),
  readiness: async () => ({ ok: true, reasons: [] }),
  metrics: { contentType: "text/plain; version=0.0.4; charset=utf-8", render: async () => "ferry_up 1\n" },
  admin: { controls, token },
});
const auth = { authorization: `Bearer ${token}` };
const post = (path: string, body?: unknown, headers: Record<string, string> = auth) =>
  app.request(path, {
    method: "POST",
    headers: { ...headers, "content-type": "application/json" },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });

describe("admin API", () => {
  test.each([
    [{}, 401],
    [{ authorization: "Bearer wrong-token-0123456789" }, 401],
    [{ authorization: token }, 400],
    [auth, 200],
  ])("GET /api/handlers with %p answers %p", async (headers, status) => {
    const res = await app.request("/api/handlers", { headers });
    expect(res.status).toBe(status);
    if (status === 200) expect(((await res.json()) as { handlers: Array<{ name: string }> }).handlers.map((h) => h.name)).toEqual(["totals"]);
    else expect(((await res.json()) as { error: string }).error).toContain("FERRY_ADMIN_TOKEN");
  });

  test("pause and resume reach the controls with their target; unknown handlers are 404, refused targets 409", async () => {
    calls.length = 0;
    expect((await post("/api/handlers/totals/pause")).status).toBe(200);
    expect((await post("/api/handlers/totals/resume", { topic: "orders", partitions: [1] })).status).toBe(200);
    expect(calls).toEqual([
      ["pause", "totals", {}],
      ["resume", "totals", { topic: "orders", partitions: [1] }],
    ]);
    expect((await post("/api/handlers/ghost/pause")).status).toBe(404);
    expect((await post("/api/handlers/totals/pause", { topic: "nope" })).status).toBe(409);
    const bad = await post("/api/handlers/totals/pause", { partitions: [-1] });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { problems: string[] }).problems[0]).toStartWith("partitions.0:");
    expect((await post("/api/handlers/totals/pause", undefined, {})).status).toBe(401);
  });

  test("GET /api/outbox answers the backlog, behind the token", async () => {
    expect(await (await app.request("/api/outbox", { headers: auth })).json()).toEqual({ rows: 3, oldestMs: 1_500, failed: 1, readyAgeMs: 60_000 });
    expect((await app.request("/api/outbox")).status).toBe(401);
  });

  test("replay is a dry run unless dryRun is false, and needs event ids", async () => {
    const dry = await post("/api/handlers/totals/dead-letters/replay", { eventIds: ["e1"] });
    expect(await dry.json()).toEqual({ dryRun: true, results: [{ eventId: "e1", reason: "permanent", outcome: "would-apply" }] });
    const real = await post("/api/handlers/totals/dead-letters/replay", { eventIds: ["e1"], dryRun: false });
    expect(((await real.json()) as { results: Array<{ outcome: string }> }).results[0]!.outcome).toBe("applied");
    expect((await post("/api/handlers/totals/dead-letters/replay", { eventIds: [] })).status).toBe(400);
    expect((await post("/api/handlers/totals/dead-letters/replay", "{not json")).status).toBe(400);
  });

  test("/metrics and the page are served without the token; the page's data is not", async () => {
    const metrics = await app.request("/metrics");
    expect(metrics.headers.get("content-type")).toStartWith("text/plain; version=0.0.4");
    expect(await metrics.text()).toBe("ferry_up 1\n");
    const page = await app.request("/admin");
    expect(page.headers.get("content-type")).toStartWith("text/html");
    expect(await page.text()).toContain("<title>Ferry admin</title>");
  });

  test("without the admin deps there is no admin API, page or metrics", async () => {
    const bare = createAdminApp({ liveness: () => ({ ok: true, reasons: [] }), readiness: async () => ({ ok: true, reasons: [] }) });
    for (const path of ["/api/handlers", "/admin", "/metrics"]) expect((await bare.request(path)).status).toBe(404);
  });
});
