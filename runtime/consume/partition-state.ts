import type { Failure } from "../failure/policy.ts";
import { type RedactionSource, redactEventData } from "../log/redact.ts";
import { initialTransactionSize, type TransactionSize } from "../failure/transaction-size.ts";

/** A failing event waiting for its next attempt: kept while the partition pauses. */
export interface PendingRetry {
  offset: string;
  /** Attempts made so far. */
  attempts: number;
  firstAttemptAt: Date;
}

/** What the failure policy remembers about a partition between its batches. */
export interface PartitionState {
  /** The next offset PostgreSQL holds: records below it were applied already. */
  applied?: bigint;
  /** Since when the partition has had records to apply without advancing; undefined when caught up. */
  waitingSince?: number;
  retry?: PendingRetry;
  /** Events per transaction, adapted to contention. */
  size: TransactionSize;
  /** Environment failures in a row (the wait doubles with each). */
  outages: number;
  /** Contention failures in a row. */
  contended: number;
  /** The last failure, for the stalled-partition report and logs. */
  lastFailure?: { at: number; offset: string } & FailureFields;
}

export const newPartitionState = (maxTransactionSize: number): PartitionState => ({
  size: initialTransactionSize(maxTransactionSize),
  outages: 0,
  contended: 0,
});

export interface FailureFields {
  source: string;
  errorClass: string;
  /** A SQLSTATE, a librdkafka error name, a decode reason ... when the error has one. */
  errorCode?: string;
  error: string;
}

/**
 * The fields every retry, wait and dead-letter log line carries: whose, which class, which code,
 * what. The events' own values are taken out of the message (`sources`): logs never carry payloads.
 */
export function failureFields({ error, source }: Failure, sources: readonly RedactionSource[] = []): FailureFields {
  const code = (error as { code?: unknown }).code;
  return { source, errorClass: error.name, ...(typeof code === "string" ? { errorCode: code } : {}), error: redactEventData(error.message, sources) };
}
