/**
 * The Kafka log under a partition changed in a way its offsets alone do not show. Pure: the
 * callers read the offsets (PostgreSQL's, the leader's, the client's) and act on the answer.
 *
 * - Records deleted before this handler applied them (retention, `kafka-delete-records`): the
 *   offset PostgreSQL holds is below the partition's log start. They cannot be read any more: the
 *   partition goes on from the log start, and the offsets skipped are reported as lost.
 * - The log replaced (the topic deleted and created again, an unclean leader election that
 *   truncated it): the offset PostgreSQL holds is beyond the partition's end. Treating that as
 *   "done up to there" skipped the new log's records below it without a word, so the partition is
 *   read again from its log start; the inbox drops events already applied by their event id.
 */
export type LogChange =
  | { kind: "in-range" }
  /** Offsets `from` to `to` (exclusive) were deleted unread; `to` is where the partition goes on. */
  | { kind: "records-deleted"; from: string; to: string; skipped: string }
  /** `stored` lies beyond the log's end `logEnd`: the partition is read again from `logStart`. */
  | { kind: "log-replaced"; stored: string; logStart: string; logEnd: string };

export interface LogBounds {
  /** The first offset still in the log ("-1": unknown). */
  logStart: string;
  /** The offset the next record will get ("-1": unknown). */
  logEnd: string;
}

const known = (offset: string) => /^\d+$/.test(offset);
const inRange: LogChange = { kind: "in-range" };

const deleted = (from: bigint, to: bigint): LogChange => ({ kind: "records-deleted", from: String(from), to: String(to), skipped: String(to - from) });

/** Where a partition should start, given the next offset PostgreSQL (or Kafka's commit) holds and the leader's bounds. */
export function checkPosition(next: string, bounds: LogBounds): LogChange {
  if (!known(next)) return inRange;
  const at = BigInt(next);
  // Checked first: a replaced log's start may lie above an offset of the old one too.
  if (known(bounds.logEnd) && at > BigInt(bounds.logEnd)) {
    return { kind: "log-replaced", stored: next, logStart: known(bounds.logStart) ? bounds.logStart : "0", logEnd: bounds.logEnd };
  }
  if (known(bounds.logStart) && at < BigInt(bounds.logStart)) return deleted(at, BigInt(bounds.logStart));
  return inRange;
}

/**
 * Where an assigned partition resumes and what changed under it, from PostgreSQL's next offset, the
 * group's Kafka commit (absent: none) and the leader's bounds. Pure.
 *
 * Only PostgreSQL's offset can show a replaced log: Ferry never reads past the stable end, so in an
 * unchanged log it never lies beyond the end the leader reports. Kafka's commit can (an operator's
 * reset to the latest offset, the high watermark, while a transaction upstream holds the stable end
 * back): it is taken when ahead, as before, and only checked against the log start.
 * `logReplaced`: the lane saw the new log already; it is read from its start whatever its end says now.
 */
export function decideResume({
  pg,
  kafka,
  bounds,
  logReplaced = false,
}: {
  /** Absent: PostgreSQL holds none (a group Ferry takes over, or a database that lost its offsets). */
  pg: string | undefined;
  kafka: string | undefined;
  bounds: LogBounds;
  logReplaced?: boolean;
}): { offset: string; change: LogChange } | undefined {
  const replaced = pg === undefined ? inRange : checkPosition(pg, bounds);
  if (replaced.kind === "log-replaced") return { offset: replaced.logStart, change: replaced };
  const resumeAt = pg === undefined ? kafka : kafka !== undefined && BigInt(kafka) > BigInt(pg) ? kafka : pg;
  if (resumeAt === undefined) return undefined;
  if (logReplaced) {
    const logStart = known(bounds.logStart) ? bounds.logStart : "0";
    return { offset: logStart, change: { kind: "log-replaced", stored: pg ?? resumeAt, logStart, logEnd: bounds.logEnd } };
  }
  if (known(bounds.logStart) && BigInt(resumeAt) < BigInt(bounds.logStart)) {
    const change = deleted(BigInt(resumeAt), BigInt(bounds.logStart));
    return { offset: bounds.logStart, change };
  }
  return { offset: resumeAt, change: inRange };
}

/**
 * A record at `offset` arrived for a lane that expected `expected` next, with the bounds the client
 * last saw. A gap is normal (transaction markers, compaction): it means lost records only when the
 * log start moved past the expected offset, which only retention or deleteRecords do. A record
 * below the expected offset is normally a repeat; it means a replaced log only when the log ends
 * below the expected offset, which an unchanged log never does (its end only grows).
 */
export function checkArrival(expected: number, offset: number, bounds: LogBounds): LogChange {
  if (offset > expected && known(bounds.logStart) && BigInt(bounds.logStart) > BigInt(expected)) {
    const to = BigInt(bounds.logStart) < BigInt(offset) ? BigInt(bounds.logStart) : BigInt(offset);
    return deleted(BigInt(expected), to);
  }
  if (offset < expected && known(bounds.logEnd) && BigInt(bounds.logEnd) < BigInt(expected)) {
    return { kind: "log-replaced", stored: String(expected), logStart: known(bounds.logStart) ? bounds.logStart : "0", logEnd: bounds.logEnd };
  }
  return inRange;
}

/** How a change is said: one log line whose message names what happened, the fields what and what next. */
export function describeLogChange(change: Exclude<LogChange, { kind: "in-range" }>): {
  level: "error" | "warn";
  msg: string;
  fields: Record<string, string>;
} {
  if (change.kind === "records-deleted") {
    return {
      level: "error",
      msg: "partition:records-lost",
      fields: {
        from: change.from,
        to: change.to,
        skipped: change.skipped,
        why: "Kafka deleted these offsets (retention.ms, retention.bytes or deleteRecords) before this handler applied them: their events are lost to it",
        action: "going on from the log start; to keep them, give the topic a longer retention than the worker can fall behind or stay stopped",
      },
    };
  }
  return {
    level: "warn",
    msg: "partition:log-replaced",
    fields: {
      storedOffset: change.stored,
      logStart: change.logStart,
      logEnd: change.logEnd,
      why: "the partition ends below the offset this handler holds: the topic was deleted and created again, or its log truncated",
      action: "reading the partition again from its log start; events already applied are skipped by their event id",
    },
  };
}
