/**
 * OpenTelemetry's trace SDK, started only when OTEL_* settings ask for an exporter
 * (config/telemetry-settings.ts). Its modules are imported here, on demand: without those settings
 * they are never evaluated, no provider is registered, and Ferry's spans stay no-ops.
 */
import { diag, DiagLogLevel, propagation, trace } from "@opentelemetry/api";
import type { BuildInfo } from "../build-info.ts";
import type { TelemetrySettings } from "../config/telemetry-settings.ts";
import type { Logger } from "../log/logger.ts";
import { tracingStarted } from "./span.ts";

export interface Tracing {
  /** Exports what is still queued (bounded by the export timeout), then stops. */
  shutdown(): Promise<void>;
}

export async function startTracing(settings: TelemetrySettings, deps: { log: Logger; build: BuildInfo; instanceId?: string }): Promise<Tracing> {
  const [sdk, core, resources] = await Promise.all([import("@opentelemetry/sdk-trace"), import("@opentelemetry/core"), import("@opentelemetry/resources")]);
  const log = deps.log.child({ component: "telemetry" });
  // The SDK reports export failures through `diag`: once a minute at most, never per batch.
  diag.setLogger(rateLimited(log, 60_000), DiagLogLevel.WARN);

  const exporter = settings.exporter === "console" ? new sdk.ConsoleSpanExporter() : await otlpExporter(settings.otlp);
  const processor =
    settings.exporter === "console"
      ? new sdk.SimpleSpanProcessor({ exporter })
      : new sdk.BatchSpanProcessor({
          exporter,
          scheduledDelayMillis: settings.batch.scheduleDelayMs,
          exportTimeoutMillis: settings.batch.exportTimeoutMs,
          maxQueueSize: settings.batch.maxQueueSize,
          maxExportBatchSize: settings.batch.maxExportBatchSize,
        });
  const resource = resources.defaultResource().merge(
    resources.resourceFromAttributes({
      "service.name": settings.serviceName,
      "service.version": deps.build.version,
      ...(deps.instanceId ? { "service.instance.id": deps.instanceId } : {}),
      "process.runtime.name": "bun",
      "process.runtime.version": deps.build.bun,
      "ferry.commit": deps.build.commit,
      ...settings.resourceAttributes,
    }),
  );
  const provider = new sdk.TracerProvider({ resource, sampler: sampler(sdk, settings.sampler), spanProcessors: [processor] });
  trace.setGlobalTracerProvider(provider);
  const propagators = settings.propagators.map((p) => (p === "tracecontext" ? new core.W3CTraceContextPropagator() : new core.W3CBaggagePropagator()));
  propagation.setGlobalPropagator(new core.CompositePropagator({ propagators }));
  tracingStarted();
  log.info("telemetry:exporting", {
    exporter: settings.exporter,
    ...(settings.exporter === "otlp" ? { url: settings.otlp.url, protocol: settings.otlp.protocol, headers: Object.keys(settings.otlp.headers) } : {}),
    serviceName: settings.serviceName,
    sampler: settings.sampler.kind,
  });
  return {
    async shutdown() {
      await provider.shutdown().catch((e: unknown) => log.warn("telemetry:shutdown-failed", { error: String(e) }));
    },
  };
}

async function otlpExporter(otlp: TelemetrySettings["otlp"]) {
  const config = { url: otlp.url, headers: otlp.headers, timeoutMillis: otlp.timeoutMs, compression: otlp.compression as never };
  if (otlp.protocol === "http/json") return new (await import("@opentelemetry/exporter-trace-otlp-http")).OTLPTraceExporter(config);
  return new (await import("@opentelemetry/exporter-trace-otlp-proto")).OTLPTraceExporter(config);
}

function sampler(sdk: typeof import("@opentelemetry/sdk-trace"), s: TelemetrySettings["sampler"]) {
  const root =
    s.kind === "always_off" || s.kind === "parentbased_always_off"
      ? new sdk.AlwaysOffSampler()
      : s.kind === "traceidratio" || s.kind === "parentbased_traceidratio"
        ? new sdk.TraceIdRatioBasedSampler(s.ratio)
        : new sdk.AlwaysOnSampler();
  return s.kind.startsWith("parentbased_") ? new sdk.ParentBasedSampler({ root }) : root;
}

/** The SDK's diagnostics as Ferry log lines, each distinct message at most once per `everyMs`. */
function rateLimited(log: Logger, everyMs: number) {
  const last = new Map<string, number>();
  const say =
    (level: "warn" | "error") =>
    (message: string, ...args: unknown[]) => {
      const now = Date.now();
      if (now - (last.get(message) ?? -Infinity) < everyMs) return;
      last.set(message, now);
      log[level]("telemetry:diagnostic", { detail: message, ...(args.length ? { args: args.map((a) => (a instanceof Error ? a.message : String(a))) } : {}) });
    };
  const quiet = () => {};
  return { error: say("error"), warn: say("warn"), info: quiet, debug: quiet, verbose: quiet };
}
