import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import {
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  context,
  isSpanContextValid,
  propagation,
  trace,
  type Attributes,
  type Context,
  type Link,
} from "@opentelemetry/api";
import type { EventMeta } from "../handlers/contract.ts";
import { parseTraceparent } from "./traceparent.ts";

/**
 * Installs Ferry's context manager unless the process already has one (an OpenTelemetry SDK set up
 * by the operator wins). Without an SDK the tracer stays a no-op: spans carry the incoming trace
 * context and record nothing.
 */
export function enableTraceContext(): void {
  // The active context across awaits, so a handler (and its ctx.log lines) sees the event's trace.
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
}

/** The incoming context of an event: the configured propagator's reading, else W3C `traceparent`. */
function parentOf(headers: Readonly<Record<string, string>>): Context {
  const extracted = propagation.extract(ROOT_CONTEXT, headers);
  if (trace.getSpanContext(extracted)) return extracted;
  const parsed = parseTraceparent(headers.traceparent);
  return parsed ? trace.setSpanContext(ROOT_CONTEXT, parsed) : ROOT_CONTEXT;
}

const tracer = () => trace.getTracer("ferry");

async function inSpan<T>(name: string, parent: Context, attributes: Attributes, links: Link[], fn: () => Promise<T> | T): Promise<T> {
  return tracer().startActiveSpan(name, { kind: SpanKind.CONSUMER, attributes, links }, parent, async (span) => {
    try {
      return await fn();
    } catch (e) {
      span.recordException(e as Error);
      span.setStatus({ code: SpanStatusCode.ERROR });
      throw e;
    } finally {
      span.end();
    }
  });
}

/** Runs a handler call for one event inside a consumer span that continues the event's trace. */
export function withEventSpan<T>(handler: string, event: EventMeta, fn: () => Promise<T> | T): Promise<T> {
  const attributes = { "messaging.system": "kafka", "messaging.destination.name": event.topic, "messaging.message.id": event.id, "ferry.handler": handler };
  return inSpan(`${event.topic} process`, parentOf(event.headers), attributes, [], fn);
}

/** Runs a batch handler call in a span linked to each event's trace (a batch has no single parent). */
export function withBatchSpan<T>(handler: string, events: EventMeta[], fn: () => Promise<T> | T): Promise<T> {
  const links = events.flatMap((e) => {
    const sc = trace.getSpanContext(parentOf(e.headers));
    return sc ? [{ context: sc }] : [];
  });
  return inSpan(
    `${events[0]?.topic ?? "batch"} process`,
    ROOT_CONTEXT,
    { "messaging.system": "kafka", "messaging.batch.message_count": events.length, "ferry.handler": handler },
    links,
    fn,
  );
}

/** Log fields of the active span: every JSON line written inside a handler call carries its trace id. */
export function activeTraceFields(): Record<string, string> | undefined {
  const sc = trace.getSpanContext(context.active());
  return sc && isSpanContextValid(sc) ? { traceId: sc.traceId, spanId: sc.spanId } : undefined;
}
