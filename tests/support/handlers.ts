import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

/**
 * Writes a handlers directory in a fresh temp folder, far from any node_modules, so the binary
 * must serve `ferry` itself. `files` maps file names to contents; `migrations` likewise.
 */
export function writeHandlersDir(files: Record<string, string>, migrations: Record<string, string> = {}): string {
  const dir = mkdtempSync(path.join(tmpdir(), "ferry-handlers-"));
  for (const [name, content] of Object.entries(files)) writeFileSync(path.join(dir, name), content);
  if (Object.keys(migrations).length > 0) {
    mkdirSync(path.join(dir, "migrations"));
    for (const [name, content] of Object.entries(migrations)) writeFileSync(path.join(dir, "migrations", name), content);
  }
  return dir;
}

/**
 * A handler that records each applied event in its own effects table (no unique constraint, so a
 * double apply would show as two rows). The payload steers failures for the tests:
 * `fail: "always" | "permanent" | "transient" | "throw-string"` (transient fails attempts 1 and 2).
 */
export function effectsHandler({
  topic,
  table,
  businessKey = false,
  retry = "{ attempts: 3, backoffMs: 20, maxBackoffMs: 200 }",
  extra = "",
  timeoutMs,
  options = "",
}: {
  topic: string;
  table: string;
  businessKey?: boolean;
  retry?: string;
  extra?: string;
  timeoutMs?: number;
  /** More handler options, as source: e.g. `concurrency: { perPartition: 16 },`. */
  options?: string;
}): string {
  return `import { defineHandler } from "ferry";

interface Payload { n: number; key: string; seq: number; fail?: string }

export default defineHandler<Payload>({
  topic: ${JSON.stringify(topic)},
  ${businessKey ? "businessKey: (p) => p.key," : ""}
  retry: ${retry},
  ${timeoutMs ? `timeoutMs: ${timeoutMs},` : ""}
  ${options}
  async handle(p, ctx) {
    ${extra}
    if (p.fail === "hang") await new Promise(() => {});
    if (p.fail === "slow-sql") await ctx.sql\`select pg_sleep(30)\`;
    if (p.fail === "always") throw new TypeError(\`event \${p.n} always fails\`);
    if (p.fail === "permanent") throw ctx.permanent(\`event \${p.n} can never apply\`);
    if (p.fail === "transient" && ctx.attempt < 3) throw new Error(\`event \${p.n} fails on attempt \${ctx.attempt}\`);
    if (p.fail === "throw-string") throw "a plain string";
    await ctx.sql\`insert into ${table} (event_id, n, kafka_key, biz_key, seq, attempt)
      values (\${ctx.event.id}, \${p.n}, \${ctx.event.key}, \${p.key}, \${p.seq}, \${ctx.attempt})\`;
  },
});
`;
}

export const effectsTableMigration = (table: string) =>
  `create table ${table} (id bigserial primary key, event_id text not null, n int not null, kafka_key text, biz_key text not null, seq int not null, attempt int not null, applied_at timestamptz not null default clock_timestamp());`;

/** The same effects as `effectsHandler`, written set-based by `handleBatch`: one statement per batch. */
export function batchEffectsHandler({ topic, table }: { topic: string; table: string }): string {
  return `import { defineHandler } from "ferry";

interface Payload { n: number; key: string; seq: number; fail?: string }

export default defineHandler<Payload>({
  topic: ${JSON.stringify(topic)},
  retry: { attempts: 3, backoffMs: 20, maxBackoffMs: 200 },
  async handleBatch(items, ctx) {
    const poison = items.find((i) => i.value.fail === "always");
    if (poison) throw new RangeError(\`event \${poison.value.n} always fails\`);
    await ctx.sql\`insert into ${table} (event_id, n, kafka_key, biz_key, seq, attempt)
      select * from unnest(\${items.map((i) => i.event.id)}::text[], \${items.map((i) => i.value.n)}::int[],
        \${items.map((i) => i.event.key)}::text[], \${items.map((i) => i.value.key)}::text[],
        \${items.map((i) => i.value.seq)}::int[], \${items.map(() => ctx.attempt)}::int[])\`;
  },
});
`;
}
