import { loadMigrateConfig } from "../config/load.ts";
import { connectDatabase } from "../db/connect.ts";
import { collectMigrations, migrate } from "../db/migrate.ts";
import { explainConnectionFailure } from "../health/at-start.ts";
import { createLogger } from "../log/logger.ts";
import { parseFlags, type FlagMap } from "./flags.ts";
import { migrateUsage } from "./usage.ts";

const migrateFlags: FlagMap = {
  handlers: { env: "FERRY_HANDLERS_DIR" },
  "database-url": { env: "FERRY_DATABASE_URL" },
  "log-level": { env: "FERRY_LOG_LEVEL" },
};

export async function migrateCommand(args: string[], env: Record<string, string | undefined>): Promise<number> {
  const { settings, help } = parseFlags("migrate", args, migrateFlags, env);
  if (help) {
    console.log(migrateUsage);
    return 0;
  }
  const config = loadMigrateConfig(settings);
  const log = createLogger({ level: config.logLevel });
  const sql = connectDatabase(config.database, { poolSize: 2 });
  try {
    const { applied } = await migrate(sql, await collectMigrations(config.handlersDir), log);
    console.log(applied.length ? `applied ${applied.length} migration(s): ${applied.join(", ")}` : "database is up to date");
    return 0;
  } catch (e) {
    throw explainConnectionFailure(e, { database: config.database });
  } finally {
    await sql.end({ timeout: 5 });
  }
}
