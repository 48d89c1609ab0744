import type { Sql } from "postgres";
import { advisoryUnlock, pruneInboxChunk, tryAdvisoryLock } from "../db/sql/inbox.ts";
import { pruneOutboxChunk } from "../db/sql/outbox.ts";
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
  return pruneUnderLock(sql, (reserved) => pruneInboxChunk(reserved, retentionHours, CHUNK));
}

/** Deletes outbox rows sent longer ago than the retention (unsent rows are never pruned), like the inbox. */
export async function pruneOutbox(sql: Sql, retentionHours: number): Promise<number> {
  return pruneUnderLock(sql, (reserved) => pruneOutboxChunk(reserved, retentionHours, CHUNK));
}

async function pruneUnderLock(sql: Sql, chunk: (reserved: Sql) => Promise<number>): Promise<number> {
  const reserved = await sql.reserve();
  try {
    if (!(await tryAdvisoryLock(reserved, PRUNE_LOCK_KEY))) return 0;
    try {
      let total = 0;
      for (;;) {
        const deleted = await chunk(reserved);
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
  { retentionHours, pruneIntervalMs: intervalMs, outboxRetentionHours }: { retentionHours: number; pruneIntervalMs: number; outboxRetentionHours?: number },
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
    if (outboxRetentionHours !== undefined) {
      try {
        const deleted = await pruneOutbox(sql, outboxRetentionHours);
        if (deleted > 0) log.info("outbox:pruned", { deleted, retentionHours: outboxRetentionHours });
      } catch (e) {
        log.warn("outbox:prune-failed", { error: coerceError(e), retryInMs: intervalMs });
      }
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
