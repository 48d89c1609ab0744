/**
 * OpenTelemetry's standard variables (OTEL_*), read here like every other setting. Traces leave the
 * process only when asked for: OTEL_TRACES_EXPORTER set to otlp or console, or an OTLP endpoint set.
 * Otherwise no SDK is loaded and spans stay no-ops that only carry the incoming trace context.
 */
import { ConfigError } from "../errors.ts";
import type { Settings } from "./schema.ts";

export interface TelemetrySettings {
  serviceName: string;
  /** From OTEL_RESOURCE_ATTRIBUTES, values percent-decoded. */
  resourceAttributes: Record<string, string>;
  exporter: "otlp" | "console";
  otlp: {
    /** The full URL spans are POSTed to. */
    url: string;
    protocol: "http/protobuf" | "http/json";
    /** Secret: may carry an API key. Never logged. */
    headers: Record<string, string>;
    timeoutMs: number;
    compression: "gzip" | "none";
  };
  sampler: { kind: Settings["OTEL_TRACES_SAMPLER"]; ratio: number };
  propagators: Array<"tracecontext" | "baggage">;
  batch: { scheduleDelayMs: number; exportTimeoutMs: number; maxQueueSize: number; maxExportBatchSize: number };
}

export const telemetrySettingNames = [
  "OTEL_SDK_DISABLED",
  "OTEL_SERVICE_NAME",
  "OTEL_RESOURCE_ATTRIBUTES",
  "OTEL_TRACES_EXPORTER",
  "OTEL_EXPORTER_OTLP_ENDPOINT",
  "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
  "OTEL_EXPORTER_OTLP_PROTOCOL",
  "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
  "OTEL_EXPORTER_OTLP_HEADERS",
  "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
  "OTEL_EXPORTER_OTLP_TIMEOUT",
  "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
  "OTEL_EXPORTER_OTLP_COMPRESSION",
  "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION",
  "OTEL_TRACES_SAMPLER",
  "OTEL_TRACES_SAMPLER_ARG",
  "OTEL_PROPAGATORS",
  "OTEL_BSP_SCHEDULE_DELAY",
  "OTEL_BSP_EXPORT_TIMEOUT",
  "OTEL_BSP_MAX_QUEUE_SIZE",
  "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
] as const;

type TelemetryInput = Pick<Settings, (typeof telemetrySettingNames)[number]>;

/** Undefined when no trace exporter is asked for: then nothing about OpenTelemetry's SDK runs. */
export function loadTelemetrySettings(s: TelemetryInput): TelemetrySettings | undefined {
  const endpoint = s.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? s.OTEL_EXPORTER_OTLP_ENDPOINT;
  const exporter = s.OTEL_TRACES_EXPORTER ?? (endpoint ? "otlp" : undefined);
  if (s.OTEL_SDK_DISABLED === "true" || exporter === undefined || exporter === "none") return undefined;
  const problems: string[] = [];
  const headers = {
    ...parseKeyValues("OTEL_EXPORTER_OTLP_HEADERS", s.OTEL_EXPORTER_OTLP_HEADERS, problems, { secret: true }),
    ...parseKeyValues("OTEL_EXPORTER_OTLP_TRACES_HEADERS", s.OTEL_EXPORTER_OTLP_TRACES_HEADERS, problems, { secret: true }),
  };
  const resourceAttributes = parseKeyValues("OTEL_RESOURCE_ATTRIBUTES", s.OTEL_RESOURCE_ATTRIBUTES, problems, { secret: false });
  const sampler = s.OTEL_TRACES_SAMPLER;
  if (s.OTEL_TRACES_SAMPLER_ARG !== undefined && !sampler.endsWith("traceidratio")) {
    problems.push(`OTEL_TRACES_SAMPLER_ARG is set but OTEL_TRACES_SAMPLER=${sampler} takes no ratio: use traceidratio or parentbased_traceidratio`);
  }
  const batch = {
    scheduleDelayMs: s.OTEL_BSP_SCHEDULE_DELAY,
    exportTimeoutMs: s.OTEL_BSP_EXPORT_TIMEOUT,
    maxQueueSize: s.OTEL_BSP_MAX_QUEUE_SIZE,
    maxExportBatchSize: s.OTEL_BSP_MAX_EXPORT_BATCH_SIZE,
  };
  if (batch.maxExportBatchSize > batch.maxQueueSize) {
    problems.push(`OTEL_BSP_MAX_EXPORT_BATCH_SIZE=${batch.maxExportBatchSize} must not exceed OTEL_BSP_MAX_QUEUE_SIZE=${batch.maxQueueSize}`);
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return {
    serviceName: s.OTEL_SERVICE_NAME,
    resourceAttributes,
    exporter,
    otlp: {
      // The signal-specific endpoint is used as it is; the general one gets the traces path (OTLP/HTTP's rule).
      url: s.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? `${(s.OTEL_EXPORTER_OTLP_ENDPOINT ?? "http://localhost:4318").replace(/\/+$/, "")}/v1/traces`,
      protocol: s.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL ?? s.OTEL_EXPORTER_OTLP_PROTOCOL ?? "http/protobuf",
      headers,
      timeoutMs: s.OTEL_EXPORTER_OTLP_TRACES_TIMEOUT ?? s.OTEL_EXPORTER_OTLP_TIMEOUT ?? 10_000,
      compression: s.OTEL_EXPORTER_OTLP_TRACES_COMPRESSION ?? s.OTEL_EXPORTER_OTLP_COMPRESSION ?? "none",
    },
    sampler: { kind: sampler, ratio: s.OTEL_TRACES_SAMPLER_ARG ?? 1 },
    propagators: s.OTEL_PROPAGATORS.filter((p): p is "tracecontext" | "baggage" => p !== "none"),
    batch,
  };
}

/** `key=value,key2=value2` (W3C Baggage style, values percent-encoded), as the OpenTelemetry spec defines these variables. */
function parseKeyValues(name: string, raw: string | undefined, problems: string[], { secret }: { secret: boolean }): Record<string, string> {
  const out: Record<string, string> = {};
  if (raw === undefined) return out;
  for (const [i, pair] of raw.split(",").entries()) {
    if (pair.trim() === "") continue;
    const eq = pair.indexOf("=");
    const key = eq > 0 ? pair.slice(0, eq).trim() : "";
    let value: string | undefined;
    try {
      value = eq > 0 ? decodeURIComponent(pair.slice(eq + 1).trim()) : undefined;
    } catch {
      value = undefined;
    }
    if (!key || value === undefined) {
      // A header may hold an API key: say where the problem is, never what it holds.
      problems.push(
        `${name} must be a comma-separated list of key=value pairs (entry ${i + 1} is not${secret ? "; value not shown" : `: ${JSON.stringify(pair)}`})`,
      );
      continue;
    }
    out[key] = value;
  }
  return out;
}
