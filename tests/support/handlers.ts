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
 * A handler that records each event in its own effects table: one row per applied event,
 * keyed by event id, so the tests can count exactly what was applied.
 */
export function effectsHandler({ topic, table, businessKey = false, extra = "" }: { topic: string; table: string; businessKey?: boolean; extra?: string }): string {
  return `import { defineHandler } from "ferry";

interface Payload { n: number; key: string; seq: number }

export default defineHandler<Payload>({
  topic: ${JSON.stringify(topic)},
  ${businessKey ? "businessKey: (p) => p.key," : ""}
  retry: { attempts: 3, backoffMs: 20, maxBackoffMs: 200 },
  async handle(p, ctx) {
    ${extra}
    await ctx.sql\`insert into ${table} (event_id, n, key, seq) values (\${ctx.event.id}, \${p.n}, \${p.key}, \${p.seq})\`;
  },
});
`;
}

export const effectsTableMigration = (table: string) =>
  `create table ${table} (id bigserial primary key, event_id text not null, n int not null, key text not null, seq int not null);`;
