import type { Sql } from "postgres";
import { advisoryUnlock, pruneInboxChunk, tryAdvisoryLock } from "../db/sql/inbox.ts";
import { coerceError } from "../errors.ts";
import type { Logger } from "../log/logger.ts";

// Any constant works; it only has to be the same for every Ferry process on this database.
const PRUNE_LOCK_KEY = 0x6665_7270; // "ferp"
const CHUNK = 5_000;

/**
 * Deletes inbox rows older than the retention, in small chunks so no statement holds locks for
 * long. One worker at a time (advisory lock); the others skip. Business keys are never pruned:
 * functional deduplication is forever.
 */
export async function pruneInbox(sql: Sql, retentionHours: number): Promise<number> {
  const reserved = await sql.reserve();
  try {
    if (!(await tryAdvisoryLock(reserved, PRUNE_LOCK_KEY))) return 0;
    try {
      let total = 0;
      for (;;) {
        const deleted = await pruneInboxChunk(reserved, retentionHours, CHUNK);
        total += deleted;
        if (deleted < CHUNK) return total;
      }
    } finally {
      await advisoryUnlock(reserved, PRUNE_LOCK_KEY);
    }
  } finally {
    reserved.release();
  }
}

/** Prunes now and then every `intervalMs` until stopped. Failures are logged and retried next time. */
export function schedulePruning(
  sql: Sql,
  { retentionHours, pruneIntervalMs: intervalMs }: { retentionHours: number; pruneIntervalMs: number },
  log: Logger,
): { stop(): void } {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let stopped = false;
  const run = async () => {
    try {
      const deleted = await pruneInbox(sql, retentionHours);
      if (deleted > 0) log.info("inbox:pruned", { deleted, retentionHours });
    } catch (e) {
      log.warn("inbox:prune-failed", { error: coerceError(e), retryInMs: intervalMs });
    }
    if (!stopped) timer = setTimeout(run, intervalMs);
  };
  timer = setTimeout(run, 0);
  return {
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
