import { describe, expect, test } from "bun:test";
import { createAdminApp } from "./app.ts";

describe("health endpoints", () => {
  test("/healthz answers 200 with the report when alive, 503 when not", async () => {
    let alive = true;
    const app = createAdminApp({
      liveness: () => ({ ok: alive, reasons: alive ? [] : ["engine is stopped"] }),
      readiness: async () => ({ ok: true, reasons: [] }),
    });
    const up = await app.request("/healthz");
    expect(up.status).toBe(200);
    expect(await up.json()).toEqual({ ok: true, reasons: [] });
    alive = false;
    const down = await app.request("/healthz");
    expect(down.status).toBe(503);
    expect(await down.json()).toEqual({ ok: false, reasons: ["engine is stopped"] });
  });

  test("/readyz says why it is not ready", async () => {
    const app = createAdminApp({
      liveness: () => ({ ok: true, reasons: [] }),
      readiness: async () => ({ ok: false, reasons: ["database unreachable: connection refused"] }),
    });
    const res = await app.request("/readyz");
    expect(res.status).toBe(503);
    expect(((await res.json()) as { reasons: string[] }).reasons).toEqual(["database unreachable: connection refused"]);
  });

  test("/readyz answers 503 within its bound when the checks hang", async () => {
    const app = createAdminApp({
      liveness: () => ({ ok: true, reasons: [] }),
      readiness: () => new Promise(() => {}),
      readinessTimeoutMs: 100,
    });
    const started = performance.now();
    const res = await app.request("/readyz");
    expect(performance.now() - started).toBeLessThan(500);
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({ ok: false, reasons: ["the readiness checks did not finish within 100 ms"] });
  });

  test("unknown paths are a JSON 404", async () => {
    const app = createAdminApp({ liveness: () => ({ ok: true, reasons: [] }), readiness: async () => ({ ok: true, reasons: [] }) });
    const res = await app.request("/nope");
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: "no route GET /nope" });
  });
});
