import * as v from "valibot";
import { compatibilityLevels } from "../avro/compatibility.ts";
import { subjectStrategies } from "../registry/subject-strategy.ts";
import { faultPoints, faultSpecPattern } from "../faults/inject.ts";
import { usableCores } from "./usable-cores.ts";

/**
 * Partitions whose transactions run at once unless told: two per core the worker may use (its CPU quota counted), 2 to 8.
 * More concurrent writers than cores made PostgreSQL's work per event dearer, not faster: they insert
 * into the same recent pages of the inbox and key indexes, and a writer descheduled while it holds a
 * page lock makes the others spin (bench/README.md, "Fewer transactions at once").
 */
export function defaultPartitionConcurrency(cores: number): number {
  return Math.min(8, Math.max(2, 2 * cores));
}

export const DEFAULT_BATCH_SIZE = 1000;

/**
 * Events per transaction unless told: 1000, fewer under a memory limit that could not hold what
 * 1000-event batches keep in memory — each partition's lane buffers up to two batches and
 * `concurrency` batches run at once, so what the worker holds grows with batch × concurrency. Past
 * the limit the kernel kills the worker, again at each restart: a smaller batch is slower, a killed
 * worker makes no progress at all. Measured (bench/README.md, "Under a memory limit"), 8
 * partitions, concurrency 4, ~1 KiB records: the worker's cgroup peaked at ~135 MB at any batch up to
 * 250 and 195–202 MB at 1000; with 1000 it was killed under 128 and 160 MB limits, 250 ran under 128.
 * Many partitions per worker or larger records need more (README, "Memory"); an operator's
 * FERRY_BATCH_SIZE is never changed.
 */
export function fittedBatchSize(memoryLimitMb: number | undefined, concurrency: number): number {
  if (memoryLimitMb === undefined) return DEFAULT_BATCH_SIZE;
  const fitted = ((memoryLimitMb - BASE_MEMORY_MB) * BATCH_PER_SPARE_MB * 4) / concurrency;
  return Math.max(MIN_FITTED_BATCH, Math.min(DEFAULT_BATCH_SIZE, Math.floor(fitted / 50) * 50));
}

/** The memory limit under which `batchSize` fits at `concurrency`, by the same rule. */
export function memoryForBatchMb(batchSize: number, concurrency: number): number {
  return Math.ceil(BASE_MEMORY_MB + (batchSize * concurrency) / (4 * BATCH_PER_SPARE_MB));
}

/**
 * The JavaScript heap size above which a full collection runs, and the memory the engine sizes its
 * collector for (memory/governor.ts, allocator-env.ts): 150 MB, or half a memory limit below 300 MB,
 * so that the worker collects before the kernel kills it.
 */
export function defaultMemoryTargetMb(memoryLimitMb: number | undefined): number {
  return memoryLimitMb === undefined ? 150 : Math.max(32, Math.min(150, Math.floor(memoryLimitMb / 2)));
}

/** What the worker needs whatever its batch: the runtime, the client, PostgreSQL's and Kafka's buffers. */
export const BASE_MEMORY_MB = 100;
/** Events per batch each MB over the base affords at concurrency 4 (~5 batches held, ~4 KB per 1 KiB record). */
const BATCH_PER_SPARE_MB = 8;
const MIN_FITTED_BATCH = 100;

/**
 * Every setting Ferry reads, by its environment variable name. Values arrive as strings
 * (from the environment or from flags mapped onto these names) and leave typed. A default may be
 * a function: one that depends on the machine is read only when its setting is missing.
 */
const int = (name: string, def: number | (() => number), min: number, max: number) =>
  v.optional(
    v.pipe(
      v.string(),
      v.trim(),
      v.regex(/^\d+$/, `${name} must be a whole number between ${min} and ${max}`),
      v.transform(Number),
      v.minValue(min, `${name} must be at least ${min}`),
      v.maxValue(max, `${name} must be at most ${max}`),
    ),
    typeof def === "function" ? () => String(def()) : String(def),
  );

const oneOf = <const T extends readonly [string, ...string[]]>(name: string, options: T, def: T[number]) =>
  v.optional(v.picklist(options, `${name} must be one of: ${options.join(", ")}`), def);

/** OTLP over HTTP only: the JS exporters Ferry embeds (gRPC would need a native HTTP/2 client). */
const otlpProtocol = (name: string) =>
  v.optional(
    v.picklist(
      ["http/protobuf", "http/json"],
      `${name} must be http/protobuf or http/json (Ferry exports over OTLP/HTTP; a collector's gRPC port 4317 has an HTTP twin on 4318)`,
    ),
  );

const brokerList = v.pipe(
  v.string("FERRY_KAFKA_BROKERS is required: a comma-separated list of host:port, e.g. 127.0.0.1:9092"),
  v.trim(),
  v.transform((s) =>
    s
      .split(",")
      .map((b) => b.trim())
      .filter(Boolean),
  ),
  v.minLength(1, "FERRY_KAFKA_BROKERS must name at least one broker as host:port"),
  v.everyItem((b) => /^[^\s:,]+:\d{1,5}$/.test(b), "FERRY_KAFKA_BROKERS entries must look like host:port, e.g. 127.0.0.1:9092"),
);

/** A path to a file (a secret, a certificate): read and checked by the loaders, not here. */
const filePath = (name: string) => v.optional(v.pipe(v.string(), v.trim(), v.minLength(1, `${name} must be a file path`)));

const databaseUrl = v.pipe(
  v.string("FERRY_DATABASE_URL (or FERRY_DATABASE_URL_FILE) is required: a PostgreSQL URL, e.g. postgres://user@127.0.0.1:5432/app"),
  v.trim(),
  v.regex(/^postgres(ql)?:\/\/\S+$/, "FERRY_DATABASE_URL must be a postgres:// or postgresql:// URL"),
);

export const settingsSchema = v.object({
  FERRY_KAFKA_BROKERS: brokerList,
  FERRY_KAFKA_CLIENT_ID: v.optional(v.pipe(v.string(), v.trim(), v.minLength(1)), "ferry"),
  FERRY_KAFKA_SECURITY_PROTOCOL: oneOf("FERRY_KAFKA_SECURITY_PROTOCOL", ["plaintext", "sasl_plaintext", "ssl", "sasl_ssl"] as const, "plaintext"),
  FERRY_KAFKA_SASL_MECHANISM: oneOf("FERRY_KAFKA_SASL_MECHANISM", ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] as const, "PLAIN"),
  FERRY_KAFKA_SASL_USERNAME: v.optional(v.string()),
  FERRY_KAFKA_SASL_PASSWORD: v.optional(v.string()),
  FERRY_KAFKA_SASL_PASSWORD_FILE: filePath("FERRY_KAFKA_SASL_PASSWORD_FILE"),
  // TLS to the brokers (ssl, sasl_ssl): the CA that signed them, and a client certificate for mutual TLS.
  FERRY_KAFKA_SSL_CA_FILE: filePath("FERRY_KAFKA_SSL_CA_FILE"),
  FERRY_KAFKA_SSL_CERT_FILE: filePath("FERRY_KAFKA_SSL_CERT_FILE"),
  FERRY_KAFKA_SSL_KEY_FILE: filePath("FERRY_KAFKA_SSL_KEY_FILE"),
  FERRY_KAFKA_SSL_KEY_PASSWORD: v.optional(v.string()),
  FERRY_KAFKA_SSL_KEY_PASSWORD_FILE: filePath("FERRY_KAFKA_SSL_KEY_PASSWORD_FILE"),
  // The consumer groups' liveness (one group per handler): how fast a dead worker's partitions move,
  // and static membership (KIP-345), so a restarted worker takes its partitions back without a rebalance.
  FERRY_KAFKA_SESSION_TIMEOUT_MS: int("FERRY_KAFKA_SESSION_TIMEOUT_MS", 10_000, 1_000, 3_600_000),
  FERRY_KAFKA_HEARTBEAT_INTERVAL_MS: int("FERRY_KAFKA_HEARTBEAT_INTERVAL_MS", 1_000, 100, 1_200_000),
  FERRY_KAFKA_MAX_POLL_INTERVAL_MS: int("FERRY_KAFKA_MAX_POLL_INTERVAL_MS", 300_000, 1_000, 86_400_000),
  FERRY_KAFKA_GROUP_INSTANCE_ID: v.optional(
    v.pipe(
      v.string(),
      v.trim(),
      v.regex(/^[A-Za-z0-9._-]{1,200}$/, "FERRY_KAFKA_GROUP_INSTANCE_ID may contain letters, digits, '.', '_' and '-' (1 to 200 of them), e.g. the pod's name"),
    ),
  ),
  FERRY_DATABASE_URL: databaseUrl,
  FERRY_DATABASE_URL_FILE: filePath("FERRY_DATABASE_URL_FILE"),
  FERRY_DATABASE_SSL_CA_FILE: filePath("FERRY_DATABASE_SSL_CA_FILE"),
  FERRY_DATABASE_SSL_CERT_FILE: filePath("FERRY_DATABASE_SSL_CERT_FILE"),
  FERRY_DATABASE_SSL_KEY_FILE: filePath("FERRY_DATABASE_SSL_KEY_FILE"),
  FERRY_DATABASE_POOL_SIZE: int("FERRY_DATABASE_POOL_SIZE", 10, 2, 200),
  FERRY_HANDLERS_DIR: v.pipe(
    v.string("the handlers directory is required: pass --handlers <dir> or set FERRY_HANDLERS_DIR"),
    v.trim(),
    v.minLength(1, "the handlers directory is required: pass --handlers <dir> or set FERRY_HANDLERS_DIR"),
  ),
  FERRY_GROUP_PREFIX: v.optional(v.pipe(v.string(), v.regex(/^[A-Za-z0-9._-]+$/, "FERRY_GROUP_PREFIX may contain letters, digits, '.', '_' and '-'")), "ferry"),
  // No default here: it depends on the memory limit and the concurrency (load.ts, fittedBatchSize).
  FERRY_BATCH_SIZE: v.optional(int("FERRY_BATCH_SIZE", DEFAULT_BATCH_SIZE, 1, 10_000).wrapped),
  FERRY_PARTITION_CONCURRENCY: int("FERRY_PARTITION_CONCURRENCY", () => defaultPartitionConcurrency(usableCores()), 1, 256),
  FERRY_EVENT_ID_HEADER: v.optional(v.pipe(v.string(), v.trim(), v.minLength(1)), "event-id"),
  FERRY_MISSING_EVENT_ID: oneOf("FERRY_MISSING_EVENT_ID", ["dead-letter", "derive"] as const, "dead-letter"),
  FERRY_DEAD_LETTER_SUFFIX: v.optional(
    v.pipe(v.string(), v.regex(/^[A-Za-z0-9._-]+$/, "FERRY_DEAD_LETTER_SUFFIX may contain letters, digits, '.', '_' and '-'")),
    ".dlt",
  ),
  FERRY_CREATE_DEAD_LETTER_TOPICS: oneOf("FERRY_CREATE_DEAD_LETTER_TOPICS", ["true", "false"] as const, "true"),
  FERRY_DEAD_LETTER_REPLICATION_FACTOR: int("FERRY_DEAD_LETTER_REPLICATION_FACTOR", 3, 1, 16),
  FERRY_INBOX_RETENTION_HOURS: int("FERRY_INBOX_RETENTION_HOURS", 336, 1, 87_600),
  FERRY_INBOX_PRUNE_INTERVAL_MS: int("FERRY_INBOX_PRUNE_INTERVAL_MS", 600_000, 1_000, 86_400_000),
  // The outbox (ctx.publish): rows per relay send, the idle relay's poll, how long sent rows are
  // kept, and the age of the oldest unsent row past which /readyz says so.
  FERRY_OUTBOX_BATCH_SIZE: int("FERRY_OUTBOX_BATCH_SIZE", 1_000, 1, 10_000),
  FERRY_OUTBOX_POLL_MS: int("FERRY_OUTBOX_POLL_MS", 1_000, 10, 60_000),
  FERRY_OUTBOX_RETENTION_HOURS: int("FERRY_OUTBOX_RETENTION_HOURS", 0, 0, 87_600),
  FERRY_OUTBOX_READY_AGE_MS: int("FERRY_OUTBOX_READY_AGE_MS", 60_000, 100, 86_400_000),
  // A relay holding the turn that sends no statement for this long loses it (PostgreSQL 14+ ends its
  // session): a frozen or cut-off replica cannot stop every other replica's relay for good.
  FERRY_OUTBOX_TURN_IDLE_MS: int("FERRY_OUTBOX_TURN_IDLE_MS", 30_000, 1_000, 3_600_000),
  FERRY_SHUTDOWN_TIMEOUT_MS: int("FERRY_SHUTDOWN_TIMEOUT_MS", 30_000, 0, 3_600_000),
  // How long `ferry run` waits for PostgreSQL, Kafka and the registry to be reachable; 0: not at all.
  FERRY_STARTUP_TIMEOUT_MS: int("FERRY_STARTUP_TIMEOUT_MS", 300_000, 0, 86_400_000),
  FERRY_HTTP_HOST: v.optional(v.pipe(v.string(), v.trim(), v.minLength(1)), "127.0.0.1"),
  FERRY_HTTP_PORT: int("FERRY_HTTP_PORT", 8080, 0, 65_535),
  // Operating a running worker: the admin API and page, hot-added handlers, the liveness limit.
  FERRY_ADMIN_API: oneOf("FERRY_ADMIN_API", ["true", "false"] as const, "true"),
  FERRY_ADMIN_TOKEN: v.optional(
    v.pipe(v.string(), v.trim(), v.regex(/^[\x21-\x7e]{16,}$/, "FERRY_ADMIN_TOKEN must be at least 16 printable characters without spaces")),
  ),
  FERRY_ADMIN_TOKEN_FILE: filePath("FERRY_ADMIN_TOKEN_FILE"),
  FERRY_HANDLERS_WATCH: oneOf("FERRY_HANDLERS_WATCH", ["true", "false"] as const, "true"),
  // A handler module whose top-level code runs longer (an `await` that never settles) is rejected.
  FERRY_HANDLER_IMPORT_TIMEOUT_MS: int("FERRY_HANDLER_IMPORT_TIMEOUT_MS", 30_000, 100, 3_600_000),
  // A handler file that cannot be loaded at start: the worker exits 2 (fail), or runs the others and /readyz says why.
  FERRY_HANDLER_GATE: oneOf("FERRY_HANDLER_GATE", ["fail", "not-ready"] as const, "fail"),
  FERRY_HEALTH_STALL_MS: int("FERRY_HEALTH_STALL_MS", 300_000, 1_000, 86_400_000),
  FERRY_PARTITION_STALL_MS: int("FERRY_PARTITION_STALL_MS", 60_000, 1_000, 86_400_000),
  // Each dependency check of /readyz and of the outage watch gets this long; the watch runs this often.
  FERRY_HEALTH_CHECK_TIMEOUT_MS: int("FERRY_HEALTH_CHECK_TIMEOUT_MS", 1_000, 100, 60_000),
  FERRY_HEALTH_CHECK_INTERVAL_MS: int("FERRY_HEALTH_CHECK_INTERVAL_MS", 5_000, 200, 3_600_000),
  // No default here: it depends on the memory limit (load.ts and allocator-env.ts, defaultMemoryTargetMb).
  FERRY_MEMORY_TARGET_MB: v.optional(int("FERRY_MEMORY_TARGET_MB", 150, 0, 1_000_000).wrapped),
  // A `handler:progress` line per handler this often (when something happened or there is lag); 0: never.
  FERRY_PROGRESS_INTERVAL_MS: int("FERRY_PROGRESS_INTERVAL_MS", 30_000, 0, 86_400_000),

  FERRY_TOPOLOGY_FILE: v.optional(
    v.pipe(
      v.string(),
      v.trim(),
      v.transform((s) =>
        s
          .split(",")
          .map((f) => f.trim())
          .filter(Boolean),
      ),
      v.minLength(1, "FERRY_TOPOLOGY_FILE must name at least one YAML file or directory"),
    ),
  ),
  FERRY_TOPOLOGY_SERVICE: v.optional(v.pipe(v.string(), v.trim(), v.minLength(1))),
  FERRY_TOPOLOGY_FORMAT: oneOf("FERRY_TOPOLOGY_FORMAT", ["text", "json"] as const, "text"),
  FERRY_TOPOLOGY_ALLOW_DELETE: oneOf("FERRY_TOPOLOGY_ALLOW_DELETE", ["true", "false"] as const, "false"),
  // Schema registry (Avro handlers, ferry schemas, ferry produce).
  FERRY_SCHEMA_REGISTRY_URL: v.optional(
    v.pipe(v.string(), v.trim(), v.regex(/^https?:\/\/\S+$/, "FERRY_SCHEMA_REGISTRY_URL must be an http:// or https:// URL, e.g. http://registry:8081")),
  ),
  FERRY_SCHEMA_REGISTRY_USERNAME: v.optional(v.string()),
  FERRY_SCHEMA_REGISTRY_PASSWORD: v.optional(v.string()),
  FERRY_SCHEMA_REGISTRY_PASSWORD_FILE: filePath("FERRY_SCHEMA_REGISTRY_PASSWORD_FILE"),
  FERRY_SCHEMA_REGISTRY_CA_FILE: v.optional(v.pipe(v.string(), v.trim(), v.minLength(1))),
  FERRY_SCHEMA_REGISTRY_CERT_FILE: v.optional(v.pipe(v.string(), v.trim(), v.minLength(1))),
  FERRY_SCHEMA_REGISTRY_KEY_FILE: v.optional(v.pipe(v.string(), v.trim(), v.minLength(1))),
  FERRY_SCHEMA_REGISTRY_TLS_VERIFY: oneOf("FERRY_SCHEMA_REGISTRY_TLS_VERIFY", ["true", "false"] as const, "true"),
  FERRY_SCHEMA_REGISTRY_TIMEOUT_MS: int("FERRY_SCHEMA_REGISTRY_TIMEOUT_MS", 10_000, 100, 600_000),
  FERRY_SCHEMA_REGISTRY_RETRIES: int("FERRY_SCHEMA_REGISTRY_RETRIES", 3, 0, 20),
  FERRY_SCHEMA_SUBJECT_STRATEGY: oneOf("FERRY_SCHEMA_SUBJECT_STRATEGY", subjectStrategies, "TopicName"),
  FERRY_SCHEMA_GATE: oneOf("FERRY_SCHEMA_GATE", ["fail", "not-ready"] as const, "fail"),
  FERRY_SCHEMAS_DIR: v.optional(v.pipe(v.string(), v.trim(), v.minLength(1)), "schemas"),
  FERRY_SCHEMAS_FORMAT: oneOf("FERRY_SCHEMAS_FORMAT", ["text", "json"] as const, "text"),
  // `ferry schemas check|register --handlers <dir>`: the schemas its handlers publish with, too.
  FERRY_SCHEMAS_HANDLERS_DIR: v.optional(v.pipe(v.string(), v.trim(), v.minLength(1))),
  FERRY_SCHEMAS_OFFLINE: oneOf("FERRY_SCHEMAS_OFFLINE", ["true", "false"] as const, "false"),
  FERRY_SCHEMAS_DRY_RUN: oneOf("FERRY_SCHEMAS_DRY_RUN", ["true", "false"] as const, "false"),
  FERRY_SCHEMAS_CHECK_ONLY: oneOf("FERRY_SCHEMAS_CHECK_ONLY", ["true", "false"] as const, "false"),
  FERRY_SCHEMA_COMPATIBILITY: oneOf("FERRY_SCHEMA_COMPATIBILITY", compatibilityLevels, "BACKWARD"),
  FERRY_PRODUCE_TOPIC: v.optional(v.pipe(v.string(), v.trim(), v.regex(/^[A-Za-z0-9._-]{1,249}$/, "FERRY_PRODUCE_TOPIC must be a topic name"))),
  FERRY_PRODUCE_SCHEMA: v.optional(v.pipe(v.string(), v.trim(), v.minLength(1))),
  FERRY_PRODUCE_KEY_FIELD: v.optional(v.pipe(v.string(), v.trim(), v.minLength(1))),
  FERRY_PRODUCE_INPUT: v.optional(v.pipe(v.string(), v.trim(), v.minLength(1)), "-"),
  FERRY_PRODUCE_ENVELOPE: oneOf("FERRY_PRODUCE_ENVELOPE", ["true", "false"] as const, "false"),
  FERRY_PRODUCE_AUTO_REGISTER: oneOf("FERRY_PRODUCE_AUTO_REGISTER", ["true", "false"] as const, "false"),
  FERRY_PRODUCE_FORMAT: oneOf("FERRY_PRODUCE_FORMAT", ["text", "json"] as const, "text"),
  // OpenTelemetry's standard variables (runtime/config/telemetry-settings.ts): traces leave the
  // process over OTLP/HTTP only when an exporter or an endpoint is set.
  OTEL_SDK_DISABLED: v.optional(v.picklist(["true", "false"], "OTEL_SDK_DISABLED must be true or false"), "false"),
  OTEL_SERVICE_NAME: v.optional(v.pipe(v.string(), v.trim(), v.minLength(1)), "ferry"),
  OTEL_RESOURCE_ATTRIBUTES: v.optional(v.string()),
  OTEL_TRACES_EXPORTER: v.optional(v.picklist(["otlp", "console", "none"], "OTEL_TRACES_EXPORTER must be one of: otlp, console, none")),
  OTEL_EXPORTER_OTLP_ENDPOINT: v.optional(
    v.pipe(v.string(), v.trim(), v.regex(/^https?:\/\/\S+$/, "OTEL_EXPORTER_OTLP_ENDPOINT must be an http:// or https:// URL, e.g. http://collector:4318")),
  ),
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: v.optional(
    v.pipe(
      v.string(),
      v.trim(),
      v.regex(/^https?:\/\/\S+$/, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT must be an http:// or https:// URL, e.g. http://collector:4318/v1/traces"),
    ),
  ),
  OTEL_EXPORTER_OTLP_PROTOCOL: otlpProtocol("OTEL_EXPORTER_OTLP_PROTOCOL"),
  OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: otlpProtocol("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"),
  OTEL_EXPORTER_OTLP_HEADERS: v.optional(v.string()),
  OTEL_EXPORTER_OTLP_TRACES_HEADERS: v.optional(v.string()),
  OTEL_EXPORTER_OTLP_TIMEOUT: v.optional(int("OTEL_EXPORTER_OTLP_TIMEOUT", 10_000, 1, 600_000).wrapped),
  OTEL_EXPORTER_OTLP_TRACES_TIMEOUT: v.optional(int("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", 10_000, 1, 600_000).wrapped),
  OTEL_EXPORTER_OTLP_COMPRESSION: v.optional(v.picklist(["gzip", "none"], "OTEL_EXPORTER_OTLP_COMPRESSION must be gzip or none")),
  OTEL_EXPORTER_OTLP_TRACES_COMPRESSION: v.optional(v.picklist(["gzip", "none"], "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION must be gzip or none")),
  OTEL_TRACES_SAMPLER: oneOf(
    "OTEL_TRACES_SAMPLER",
    ["always_on", "always_off", "traceidratio", "parentbased_always_on", "parentbased_always_off", "parentbased_traceidratio"] as const,
    "parentbased_always_on",
  ),
  OTEL_TRACES_SAMPLER_ARG: v.optional(
    v.pipe(v.string(), v.trim(), v.regex(/^(0(\.\d+)?|1(\.0+)?)$/, "OTEL_TRACES_SAMPLER_ARG must be a ratio between 0 and 1, e.g. 0.25"), v.transform(Number)),
  ),
  OTEL_PROPAGATORS: v.optional(
    v.pipe(
      v.string(),
      v.trim(),
      v.transform((s) =>
        s
          .split(",")
          .map((p) => p.trim())
          .filter(Boolean),
      ),
      v.everyItem((p) => ["tracecontext", "baggage", "none"].includes(p), "OTEL_PROPAGATORS may list tracecontext, baggage or none"),
    ),
    "tracecontext,baggage",
  ),
  OTEL_BSP_SCHEDULE_DELAY: int("OTEL_BSP_SCHEDULE_DELAY", 5_000, 1, 600_000),
  OTEL_BSP_EXPORT_TIMEOUT: int("OTEL_BSP_EXPORT_TIMEOUT", 30_000, 1, 600_000),
  OTEL_BSP_MAX_QUEUE_SIZE: int("OTEL_BSP_MAX_QUEUE_SIZE", 2_048, 1, 1_000_000),
  OTEL_BSP_MAX_EXPORT_BATCH_SIZE: int("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", 512, 1, 1_000_000),
  FERRY_LOG_LEVEL: oneOf("FERRY_LOG_LEVEL", ["debug", "info", "warn", "error"] as const, "info"),
  // Test-only, never in production: the worker SIGKILLs itself at a named point (docs/reliability.md).
  FERRY_FAULT_INJECT: v.optional(
    v.pipe(v.string(), v.trim(), v.regex(faultSpecPattern, `FERRY_FAULT_INJECT must be <point>@<n>[,<point>@<n>...] with points ${faultPoints.join(", ")}`)),
  ),
});

export type Settings = v.InferOutput<typeof settingsSchema>;
