/**
 * What every benchmark run needs first: a private copy of the freshly built binary (others may
 * rebuild dist/ferry meanwhile), a fresh database with every effects table, and Kafka clients.
 */
import { copyFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import postgres from "postgres";
import { freshDatabase } from "./database.ts";
import { benchAvro } from "./avro.ts";
import { writeMigrationsDir, type ValueFormat } from "./handlers.ts";
import { benchKafka } from "./kafka.ts";
import type { BenchContext } from "./scenarios.ts";

const root = path.join(import.meta.dir, "../..");

export function say(message: string) {
  process.stderr.write(`bench: ${message}\n`);
}

async function run(cmd: string[], env: Record<string, string> = {}) {
  const proc = Bun.spawn(cmd, { cwd: root, stdout: "pipe", stderr: "pipe", env: { ...process.env, ...env } });
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  if (code !== 0) throw new Error(`${cmd.join(" ")} exited with ${code}: ${err || out}`);
}

/**
 * The run's database: `<base>_<checkout directory>`, dropped and created again by every run. The
 * PostgreSQL server is shared (worktrees, other people's runs); a name of their own keeps one
 * checkout's run from dropping another's database under it.
 */
export function benchDatabaseName(base: string): string {
  const checkout = path
    .basename(root)
    .toLowerCase()
    .replace(/[^a-z0-9_]+/g, "_");
  return `${base}_${checkout}`.slice(0, 63);
}

export async function setUp({
  build,
  tables,
  database: base = "ferry_bench",
  binary: prebuilt,
  format = "avro",
}: {
  build: boolean;
  tables: string[];
  /** The database's base name (see benchDatabaseName). */
  database?: string;
  binary?: string;
  format?: ValueFormat;
}): Promise<BenchContext & { tearDown(): Promise<void> }> {
  const brokers = process.env.FERRY_TEST_KAFKA_BROKERS;
  const serverUrl = process.env.FERRY_TEST_DATABASE_URL;
  const registryUrl = process.env.FERRY_TEST_REGISTRY_URL;
  if (!brokers || !serverUrl) throw new Error("FERRY_TEST_KAFKA_BROKERS and FERRY_TEST_DATABASE_URL are not set: source .services/env (services/up.sh)");
  if (format === "avro" && !registryUrl) throw new Error("FERRY_TEST_REGISTRY_URL is not set: source .services/env, or run with --format json");
  if (build && !prebuilt) {
    say("building dist/ferry");
    await run([process.execPath, "scripts/build.ts"]);
  }
  const tmp = mkdtempSync(path.join(tmpdir(), "ferry-bench-"));
  const binary = path.join(tmp, "ferry");
  copyFileSync(prebuilt ?? path.join(root, "dist/ferry"), binary);
  const database = benchDatabaseName(base);
  const databaseUrl = await freshDatabase(serverUrl, database);
  const migrations = writeMigrationsDir(tables);
  await run([binary, "migrate", "--handlers", migrations], { FERRY_DATABASE_URL: databaseUrl, TMPDIR: tmp });
  rmSync(migrations, { recursive: true, force: true });
  // One connection: the bench's queries are sequential, and its backend is left out of PostgreSQL's CPU.
  const sql = postgres(databaseUrl, { max: 1, onnotice: () => {} });
  const [own] = await sql<{ pid: number }[]>`select pg_backend_pid() as pid`;
  const benchBackends = new Set([own!.pid]);
  const kafka = await benchKafka(brokers);
  const avro = format === "avro" ? benchAvro(registryUrl!) : undefined;
  return {
    format,
    ...(avro ? { avro, registryUrl } : {}),
    binary,
    brokers,
    databaseUrl,
    database,
    sql,
    benchBackends,
    kafka,
    runId: Math.random().toString(36).slice(2, 8),
    async tearDown() {
      await kafka.cleanup();
      await avro?.cleanup();
      await sql.end({ timeout: 5 });
      rmSync(tmp, { recursive: true, force: true });
    },
  };
}
