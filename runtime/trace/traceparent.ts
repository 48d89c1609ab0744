import { TraceFlags, isSpanContextValid, type SpanContext } from "@opentelemetry/api";

// W3C Trace Context, version 00: version-traceid-parentid-flags, lower-case hex.
const traceparent = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;

/**
 * Reads a `traceparent` header value (W3C Trace Context). Pure; returns null for anything that is
 * not a valid, non-zero trace context, so a malformed header never fails an event.
 */
export function parseTraceparent(value: string | undefined): SpanContext | null {
  const match = value === undefined ? null : traceparent.exec(value.trim());
  if (!match) return null;
  const [, version, traceId, spanId, flags, rest] = match;
  // Version ff is forbidden; version 00 has nothing after the flags.
  if (version === "ff" || (version === "00" && rest)) return null;
  const context: SpanContext = { traceId: traceId!, spanId: spanId!, traceFlags: parseInt(flags!, 16) & TraceFlags.SAMPLED, isRemote: true };
  return isSpanContextValid(context) ? context : null;
}

/** The trace id of an event's headers, as a log field; empty when the event carries none. */
export function traceFieldsOf(headers: Readonly<Record<string, string>>): { traceId?: string } {
  const context = parseTraceparent(headers.traceparent);
  return context ? { traceId: context.traceId } : {};
}
