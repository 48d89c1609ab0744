import type { EngineEvents } from "../engine-events.ts";
import { withBatchSpan, withEventSpan } from "../trace/span.ts";
import type { LoadedHandler } from "./validate.ts";

/**
 * Wraps a handler's `handle`/`handleBatch` so each call is timed (`handler:called`) and runs inside
 * a span that continues the event's trace context. Everything else about the handler is unchanged.
 */
export function instrumentHandler(handler: LoadedHandler, events: EngineEvents, group: string): LoadedHandler {
  const timed = async (call: () => Promise<void>) => {
    const startedAt = performance.now();
    let ok = false;
    try {
      await call();
      ok = true;
    } finally {
      events.emit("handler:called", { handler: handler.name, durationMs: performance.now() - startedAt, ok });
    }
  };
  const { apply } = handler;
  if (apply.kind === "each") {
    return {
      ...handler,
      apply: { kind: "each", handle: (value, ctx) => timed(() => withEventSpan(handler.name, group, ctx.event, () => apply.handle(value, ctx))) },
    };
  }
  return {
    ...handler,
    apply: {
      kind: "batch",
      handleBatch: (items, ctx) =>
        timed(() =>
          withBatchSpan(
            handler.name,
            group,
            items.map((i) => i.event),
            () => apply.handleBatch(items, ctx),
          ),
        ),
    },
  };
}
