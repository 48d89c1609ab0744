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
import type { OutgoingRecord } from "../kafka/port.ts";
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

// True once trace/sdk.ts registered an SDK: only then do dead letters get spans of their own.
let exporting = false;
export function tracingStarted(): void {
  exporting = true;
}

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

/** OpenTelemetry's messaging conventions for consuming an event (semantic conventions 1.27+). */
const processAttributes = (handler: string, group: string, event: EventMeta): Attributes => ({
  "messaging.system": "kafka",
  "messaging.operation.type": "process",
  "messaging.operation.name": "process",
  "messaging.destination.name": event.topic,
  "messaging.destination.partition.id": String(event.partition),
  "messaging.kafka.offset": Number(event.offset),
  "messaging.consumer.group.name": group,
  "messaging.message.id": event.id,
  "ferry.handler": handler,
});

/** Runs a handler call for one event inside a consumer span that continues the event's trace. */
export function withEventSpan<T>(handler: string, group: string, event: EventMeta, fn: () => Promise<T> | T): Promise<T> {
  return inSpan(`process ${event.topic}`, parentOf(event.headers), processAttributes(handler, group, event), [], fn);
}

/** Runs a batch handler call in a span linked to each event's trace (a batch has no single parent). */
export function withBatchSpan<T>(handler: string, group: string, events: EventMeta[], fn: () => Promise<T> | T): Promise<T> {
  const links = events.flatMap((e) => {
    const sc = trace.getSpanContext(parentOf(e.headers));
    return sc ? [{ context: sc, attributes: { "messaging.message.id": e.id, "messaging.kafka.offset": Number(e.offset) } }] : [];
  });
  const first = events[0];
  return inSpan(
    `process ${first?.topic ?? "batch"}`,
    ROOT_CONTEXT,
    {
      "messaging.system": "kafka",
      "messaging.operation.type": "process",
      "messaging.operation.name": "process",
      "messaging.batch.message_count": events.length,
      "messaging.consumer.group.name": group,
      ...(first ? { "messaging.destination.name": first.topic, "messaging.destination.partition.id": String(first.partition) } : {}),
      "ferry.handler": handler,
    },
    links,
    fn,
  );
}

/**
 * Produces `records` (dead letters) with a producer span each, a child of the trace its record's
 * own `traceparent` names (the event it stands for), and that span's context in its headers, so the
 * dead letter carries the trace on. Without an SDK, `fn` gets the records unchanged.
 */
export async function withSendSpans<T>(
  records: OutgoingRecord[],
  attributesOf: (record: OutgoingRecord) => Attributes,
  fn: (records: OutgoingRecord[]) => Promise<T>,
): Promise<T> {
  if (!exporting) return fn(records);
  const sent = records.map((record) => {
    const headers = Object.fromEntries(Object.entries(record.headers ?? {}).map(([k, v]) => [k, v.toString()]));
    const parent = parentOf(headers);
    const span = tracer().startSpan(
      `send ${record.topic}`,
      {
        kind: SpanKind.PRODUCER,
        attributes: {
          "messaging.system": "kafka",
          "messaging.operation.type": "send",
          "messaging.operation.name": "send",
          "messaging.destination.name": record.topic,
          ...attributesOf(record),
        },
      },
      parent,
    );
    const carrier: Record<string, string> = {};
    propagation.inject(trace.setSpan(parent, span), carrier);
    return { span, record: { ...record, headers: { ...record.headers, ...carrier } } };
  });
  try {
    const result = await fn(sent.map((s) => s.record));
    for (const { span } of sent) span.end();
    return result;
  } catch (e) {
    for (const { span } of sent) {
      span.recordException(e as Error);
      span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
    }
    throw e;
  }
}

/** Log fields of the active span: every JSON line written inside a handler call carries its trace id. */
export function activeTraceFields(): Record<string, string> | undefined {
  const sc = trace.getSpanContext(context.active());
  return sc && isSpanContextValid(sc) ? { traceId: sc.traceId, spanId: sc.spanId } : undefined;
}
