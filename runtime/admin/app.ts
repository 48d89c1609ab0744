import { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import type { EngineControls } from "../engine-controls.ts";
import { ControlRefusedError, UnknownHandlerError } from "../errors.ts";
import type { HealthReport } from "../health-report.ts";
import { NoAnswerError, within } from "../health/bounded.ts";
import { adminAuth } from "./auth.ts";
import { deadLettersApi } from "./dead-letters-api.ts";
import { handlersApi, outboxApi } from "./handlers-api.ts";
import adminPageText from "./page/admin.html" with { type: "text" };

// Imported as text (bun-types declares .html imports as bundles, which `type: "text"` is not).
const adminPage = adminPageText as unknown as string;

export type { HealthReport } from "../health-report.ts";

export interface AdminDeps {
  /** Alive: the consume loop is making progress (or idle by design). */
  liveness(): HealthReport;
  /** Ready for traffic: Kafka connected and assigned, the database answers, the schema gate passed. */
  readiness(): Promise<HealthReport>;
  /** /readyz answers within this, whatever the network does: a 503 saying so when the checks ran late (default 1500). */
  readinessTimeoutMs?: number;
  /** Prometheus exposition; /metrics is absent without it. */
  metrics?: { contentType: string; render(): Promise<string> };
  /** The admin API (/api/...) and page (/admin); absent when FERRY_ADMIN_API=false. */
  admin?: { controls: EngineControls; token?: string };
}

/** Ferry's HTTP surface. The engine knows nothing of HTTP: this app only reads what it is handed. */
export function createAdminApp(deps: AdminDeps): Hono {
  const app = new Hono();
  app.get("/healthz", (c) => {
    const report = deps.liveness();
    return c.json(report, report.ok ? 200 : 503);
  });
  const readinessTimeoutMs = deps.readinessTimeoutMs ?? 1_500;
  app.get("/readyz", async (c) => {
    // The checks bound themselves; this bounds the whole answer, so a probe never sees a hung request.
    const report = await within(deps.readiness(), readinessTimeoutMs).catch((e: unknown) => {
      if (!(e instanceof NoAnswerError)) throw e;
      return { ok: false, reasons: [`the readiness checks did not finish within ${readinessTimeoutMs} ms`] };
    });
    return c.json(report, report.ok ? 200 : 503);
  });
  const { metrics, admin } = deps;
  if (metrics) app.get("/metrics", async (c) => c.body(await metrics.render(), 200, { "content-type": metrics.contentType }));
  if (admin) {
    // The page holds no data and asks for the token itself; every call it makes goes through the guard.
    app.get("/admin", (c) => c.html(adminPage));
    app.use("/api/*", adminAuth(admin.token));
    app.route("/api/handlers", handlersApi(admin.controls));
    app.route("/api/handlers", deadLettersApi(admin.controls));
    app.route("/api/outbox", outboxApi(admin.controls));
  }
  app.notFound((c) => c.json({ error: `no route ${c.req.method} ${c.req.path}` }, 404));
  app.onError((e, c) => {
    if (e instanceof HTTPException) return e.getResponse();
    if (e instanceof UnknownHandlerError) return c.json({ error: e.message }, 404);
    if (e instanceof ControlRefusedError) return c.json({ error: e.message }, 409);
    return c.json({ error: `the request failed: ${e.message}` }, 500);
  });
  return app;
}
