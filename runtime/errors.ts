/**
 * Ferry's error classes: one per meaning. Each message says what happened, to which thing,
 * and what to do about it.
 */
export interface FerryErrorOptions {
  cause?: unknown;
  /** Stable, for programs and dead letter headers: a Ferry reason, a SQLSTATE, a librdkafka error name. */
  code?: string;
  /** Whether doing the same thing again may succeed. */
  retriable?: boolean;
}

export class FerryError extends Error {
  override name = "FerryError";
  /** Stable, for programs and dead letter headers: a Ferry reason, a SQLSTATE, a librdkafka error name. */
  readonly code: string;
  /** Whether doing the same thing again may succeed. Set where the error is made, never guessed later. */
  readonly retriable: boolean;
  constructor(message: string, options: FerryErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = options.code ?? "ferry-error";
    this.retriable = options.retriable ?? false;
  }
}

/** Bad configuration or command line: reported at start, the process exits with code 2. */
export class ConfigError extends FerryError {
  override name = "ConfigError";
  constructor(readonly issues: string[]) {
    super(`invalid configuration:\n  - ${issues.join("\n  - ")}`);
  }
}

/** A handler module that cannot be used: wrong shape, failed import. */
export class HandlerLoadError extends FerryError {
  override name = "HandlerLoadError";
  constructor(
    readonly file: string,
    readonly problems: string[],
    options?: { cause?: unknown },
  ) {
    super(`handler ${file} cannot be loaded:\n  - ${problems.join("\n  - ")}`, options);
  }
}

/** A topology file that cannot be used: each problem names the file, the line, the path and what was expected. */
export class TopologyFileError extends FerryError {
  override name = "TopologyFileError";
  constructor(readonly problems: string[]) {
    super(`the topology cannot be used:\n  - ${problems.join("\n  - ")}`);
  }
}

/** The topology asks for changes Kafka cannot make, or that break a guarantee, or deletions without the flag: nothing was applied. */
export class TopologyRefusedError extends FerryError {
  override name = "TopologyRefusedError";
  constructor(readonly reasons: string[]) {
    super(`nothing was applied:\n  - ${reasons.join("\n  - ")}`);
  }
}

/**
 * Thrown by a handler (via `ctx.permanent(...)` or `new PermanentError(...)`) when retrying cannot help:
 * the event is dead-lettered at once.
 */
export class PermanentError extends FerryError {
  override name = "PermanentError";
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, { ...options, code: "permanent", retriable: false });
  }
}

/** A handler call ran past its `timeoutMs`: a failed attempt like any other. */
export class HandlerTimeoutError extends FerryError {
  override name = "HandlerTimeoutError";
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, { ...options, code: "handler-timeout", retriable: true });
  }
}

/**
 * Kafka refused a record as larger than the producer's or the topic's size limit. Unlike a broker
 * outage, sending the same bytes again can never succeed.
 */
export class RecordTooLargeError extends FerryError {
  override name = "RecordTooLargeError";
  constructor(message: string, options: { cause?: unknown; code?: string } = {}) {
    super(message, { code: "record-too-large", ...options, retriable: false });
  }
}

/** The event's bytes cannot be turned into a value: dead-lettered at once, never retried. */
export class DecodeError extends FerryError {
  override name = "DecodeError";
  constructor(
    readonly reason: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * The infrastructure (database, broker) failed, not the event. Never dead-lettered:
 * the work is retried after a pause and the offset stays uncommitted.
 */
export class InfrastructureError extends FerryError {
  override name = "InfrastructureError";
  constructor(message: string, options: FerryErrorOptions = {}) {
    super(message, { code: "infrastructure", ...options, retriable: true });
  }
}

/**
 * What kind of PostgreSQL failure an error is, from its SQLSTATE class (runtime/db/errors.ts
 * holds the table). The failure policy decides from this, never from the SQLSTATE itself.
 */
export type DatabaseErrorCategory =
  /** 08, and the driver's own connection errors: the connection failed. */
  | "connection"
  /** 53: disk full, out of memory, too many connections. */
  | "resources"
  /** 57P: the server is shutting down or cannot take connections now. */
  | "unavailable"
  /** 58, XX: the server's own system or internal failure. */
  | "system"
  /** 40001, 40P01, 55P03: another transaction got in the way (serialization, deadlock, lock not available). */
  | "contention"
  /** 57014: a statement was cancelled, here by the transaction's statement_timeout. */
  | "canceled"
  /** 22: a value the database cannot take (U+0000 in text, a number out of range, bad input syntax). */
  | "data"
  /** 54: a program limit (an index row too large, too many columns, a statement too complex). */
  | "limit"
  /** 23: a constraint refused the row (unique, foreign key, not null, check). */
  | "integrity"
  /** 42, 3D, 3F, 28, 0A: the statement, schema, permissions or feature are wrong: a deploy problem, not an event's. */
  | "program"
  /** 25: the transaction is in a state the statement cannot run in (an earlier error was swallowed). */
  | "transaction"
  /** Any other SQLSTATE. */
  | "other";

/** PostgreSQL (or the connection to it) refused a statement. Made by runtime/db/errors.ts only. */
export class DatabaseError extends FerryError {
  override name = "DatabaseError";
  constructor(
    message: string,
    readonly category: DatabaseErrorCategory,
    options: { cause?: unknown; code: string; retriable: boolean },
  ) {
    super(message, options);
  }
}

/**
 * What Kafka refused, when it refused a produce for what it was sent rather than for its own state:
 * the record itself (an invalid record; a record too large is a RecordTooLargeError), or its topic
 * (missing, not writable for this principal), whatever the record.
 */
export type KafkaRefusal = "record" | "topic";

/** A Kafka client call failed. Made by runtime/kafka/ only; `code` is librdkafka's error name. */
export class KafkaError extends FerryError {
  override name = "KafkaError";
  /** Set where the error is made (kafka/errors.ts), from its code; absent when the broker or client failed. */
  readonly refused: KafkaRefusal | undefined;
  constructor(message: string, options: FerryErrorOptions & { refused?: KafkaRefusal } = {}) {
    super(message, options);
    this.refused = options.refused;
  }
}

/**
 * An event's business key cannot be used: `businessKey` threw or returned no usable key
 * (`business-key-failed`), or returned a key PostgreSQL cannot store (`unstorable-business-key`).
 */
export class BusinessKeyError extends FerryError {
  override name = "BusinessKeyError";
  constructor(
    readonly reason: "business-key-failed" | "unstorable-business-key",
    message: string,
    options: { cause?: unknown } = {},
  ) {
    super(message, { ...options, code: reason, retriable: false });
  }
}

/** A schema file, IDL file or registered schema that cannot be used; `file`/`line` point at it when known. */
export class SchemaError extends FerryError {
  override name = "SchemaError";
  constructor(
    message: string,
    readonly location?: { file: string; line?: number; column?: number },
    options?: { cause?: unknown },
  ) {
    super(
      location ? `${location.file}${location.line ? `:${location.line}${location.column ? `:${location.column}` : ""}` : ""}: ${message}` : message,
      options,
    );
  }
}

/** A value does not match the Avro schema it is to be written with; the message names each field path. */
export class EncodeError extends FerryError {
  override name = "EncodeError";
}

/** The schema registry answered with a client error (4xx): the request, not the registry, is wrong. */
export class RegistryRequestError extends FerryError {
  override name = "RegistryRequestError";
  constructor(
    message: string,
    readonly status: number,
    readonly errorCode: number | undefined,
    options: { cause?: unknown } = {},
  ) {
    super(message, { ...options, code: `http-${status}`, retriable: false });
  }
}

/** The schema registry cannot be reached or fails (network, timeout, 5xx) after retries: infrastructure, never the event's fault. */
export class RegistryUnavailableError extends InfrastructureError {
  override name = "RegistryUnavailableError";
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, { ...options, code: "registry-unavailable" });
  }
}

/** A handler's reader schema cannot read what producers registered for its topics (the consumer-side gate). */
export class SchemaGateError extends FerryError {
  override name = "SchemaGateError";
  constructor(readonly problems: string[]) {
    super(`schema gate: handlers cannot read registered schemas:\n  - ${problems.join("\n  - ")}`);
  }
}

/**
 * A stop signal (SIGTERM, SIGINT) came while a worker was starting: what had started was stopped
 * again (consumers left their groups, the pool is closed). Not a failure: the command exits 0.
 */
export class StartAbortedError extends FerryError {
  override name = "StartAbortedError";
  constructor(
    readonly signal: string,
    options?: { cause?: unknown },
  ) {
    super(`start-up aborted by ${signal}; what had started was stopped again`, options);
  }
}

/**
 * A start-up step boundary: throws StartAbortedError once `signal` was aborted (its reason is the
 * signal's name). From a catch, pass what was caught: a step the abort cut short (a cancelled lock
 * wait) failed because of the signal, and is reported as the abort.
 */
export function throwIfStartAborted(signal: AbortSignal | undefined, caught?: unknown): void {
  if (!signal?.aborted) return;
  if (caught instanceof StartAbortedError) throw caught;
  throw new StartAbortedError(String(signal.reason), caught === undefined ? undefined : { cause: caught });
}

/** Turns anything thrown into an Error, keeping the original as `cause`. */
export function coerceError(thrown: unknown): Error {
  if (thrown instanceof Error) return thrown;
  const text = typeof thrown === "string" ? thrown : safeStringify(thrown);
  return new FerryError(`non-Error value thrown: ${text}`, { cause: thrown });
}

/** Never throws: a handler may throw anything, even a value whose toJSON and toString both throw. */
function safeStringify(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    try {
      return String(value);
    } catch {
      return `an unprintable ${typeof value}`;
    }
  }
}

/** An operator control named a handler that is not running (unknown, removed, or held back). */
export class UnknownHandlerError extends FerryError {
  override name = "UnknownHandlerError";
}

/** An operator control that cannot be carried out as asked (a topic the handler does not consume, a bad partition). */
export class ControlRefusedError extends FerryError {
  override name = "ControlRefusedError";
}

/**
 * A backing service (PostgreSQL, Kafka, the schema registry) answered but refused Ferry: a wrong
 * password, a certificate its CA did not sign, a client certificate it does not accept. Waiting
 * cannot help, so start-up fails at once; `setting` is what to fix.
 */
export class DependencyRefusedError extends FerryError {
  override name = "DependencyRefusedError";
  constructor(
    readonly setting: string,
    readonly address: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** A backing service was still unreachable when FERRY_STARTUP_TIMEOUT_MS ran out (or a start step lost it): exit 1, one line. */
export class DependencyUnavailableError extends InfrastructureError {
  override name = "DependencyUnavailableError";
  constructor(
    readonly setting: string,
    readonly address: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * `ctx.publish` refused an event: a topic the handler did not declare in `publishes`, a value its
 * format cannot write, a record over the size limit. The handler's failed attempt, like any error
 * it throws (retried, then dead-lettered; the probes tell when every event fails alike).
 */
export class PublishError extends FerryError {
  override name = "PublishError";
  constructor(message: string, options: { cause?: unknown; code?: string } = {}) {
    super(message, { code: "publish-refused", ...options, retriable: false });
  }
}
