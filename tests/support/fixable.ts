import { randomUUID } from "node:crypto";
import { writeFileSync } from "node:fs";
import path from "node:path";
import type postgres from "postgres";
import { adminClient } from "./admin.ts";
import { effectsHandler } from "./handlers.ts";
import type { createScenario } from "./scenario.ts";

type Scenario = Awaited<ReturnType<typeof createScenario>>;

/**
 * Rewrites a scenario's handler so events marked `fail: "until-fixed"` are refused (permanent, so
 * dead-lettered at once) until `fix()` inserts a row: a dead letter a replay can then apply.
 * Every handled event also logs `effect:handling` through ctx.log, with the trace id the handler
 * sees through the binary's OpenTelemetry API (`ferry/otel`).
 */
export async function makeFixable(s: Scenario, sql: postgres.Sql) {
  const fixed = `${s.table}_fixed`;
  await sql`create table ${sql(fixed)} (ok int)`;
  const extra = `const { trace } = await import("ferry/otel");
    ctx.log.info("effect:handling", { n: p.n, activeTraceId: trace.getActiveSpan()?.spanContext().traceId });
    if (p.fail === "until-fixed") {
      const [row] = await ctx.sql\`select count(*)::int as n from ${fixed}\`;
      if (row.n === 0) throw ctx.permanent(\`event \${p.n} waits for a fix\`);
      delete p.fail;
    }`;
  writeFileSync(path.join(s.handlersDir, "record-effect.ts"), effectsHandler({ topic: s.topic, table: s.table, extra }));
  return {
    fix: () => sql`insert into ${sql(fixed)} values (1)`,
    /** Events `from`..`to`-1 for the scenario's topic, ids `<topic>-<n>`. */
    events: (from: number, to: number, extra: Record<string, unknown> = {}, headers: Record<string, string> = {}) =>
      Array.from({ length: to - from }, (_, i) => ({
        topic: s.topic,
        key: `k${from + i}`,
        value: JSON.stringify({ n: from + i, key: `${s.topic}-b-${from + i}`, seq: 1, ...extra }),
        headers: { "event-id": `${s.topic}-${from + i}`, ...headers },
      })),
  };
}

/** A fixable scenario's worker, started with an admin token of its own; `admin` sends that token. */
export async function startFixableWorker(s: Scenario, sql: postgres.Sql) {
  const fixable = await makeFixable(s, sql);
  const token = `admin-${randomUUID()}`;
  const worker = s.start({ FERRY_ADMIN_TOKEN: token });
  const { port } = (await worker.waitForLog("http:listening")) as { port: number };
  return { ...fixable, token, worker, port, admin: adminClient(port, token) };
}
