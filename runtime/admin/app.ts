import { Hono } from "hono";

export interface HealthReport {
  ok: boolean;
  reasons: string[];
  [detail: string]: unknown;
}

export interface AdminDeps {
  /** Alive: the process is running its loops (or idle by design). */
  liveness(): HealthReport;
  /** Ready for traffic: Kafka and the database answer. */
  readiness(): Promise<HealthReport>;
}

/** Ferry's HTTP surface. The engine knows nothing of HTTP: this app only reads what it is handed. */
export function createAdminApp(deps: AdminDeps): Hono {
  const app = new Hono();
  app.get("/healthz", (c) => {
    const report = deps.liveness();
    return c.json(report, report.ok ? 200 : 503);
  });
  app.get("/readyz", async (c) => {
    const report = await deps.readiness();
    return c.json(report, report.ok ? 200 : 503);
  });
  app.notFound((c) => c.json({ error: `no route ${c.req.method} ${c.req.path}` }, 404));
  return app;
}
