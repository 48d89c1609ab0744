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
  constructor(readonly file: string, readonly problems: string[], options?: { cause?: unknown }) {
    super(`handler ${file} cannot be loaded:\n  - ${problems.join("\n  - ")}`, options);
  }
}

/**
 * Thrown by a handler (via `ctx.permanent(...)` or `new PermanentError(...)`) when retrying cannot help:
 * the event is dead-lettered at once.
 */
export class PermanentError extends FerryError {
  override name = "PermanentError";
}

/** The event's bytes cannot be turned into a value: dead-lettered at once, never retried. */
export class DecodeError extends FerryError {
  override name = "DecodeError";
  constructor(readonly reason: string, message: string, options?: { cause?: unknown }) {
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

/** Turns anything thrown into an Error, keeping the original as `cause`. */
export function coerceError(thrown: unknown): Error {
  if (thrown instanceof Error) return thrown;
  const text = typeof thrown === "string" ? thrown : safeStringify(thrown);
  return new FerryError(`non-Error value thrown: ${text}`, { cause: thrown });
}

function safeStringify(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
