/**
 * Ferry's error classes: one per meaning. Each message says what happened, to which thing,
 * and what to do about it.
 */
export class FerryError extends Error {
  override name = "FerryError";
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
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
}

/** A handler call ran past its `timeoutMs`: a failed attempt like any other. */
export class HandlerTimeoutError extends FerryError {
  override name = "HandlerTimeoutError";
}

/**
 * Kafka refused a record as larger than the producer's or the topic's size limit. Unlike a broker
 * outage, sending the same bytes again can never succeed.
 */
export class RecordTooLargeError extends FerryError {
  override name = "RecordTooLargeError";
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
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The schema registry cannot be reached or fails (network, timeout, 5xx) after retries: infrastructure, never the event's fault. */
export class RegistryUnavailableError extends InfrastructureError {
  override name = "RegistryUnavailableError";
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
