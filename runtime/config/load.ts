import * as v from "valibot";
import { ConfigError } from "../errors.ts";
import { parseFaultSpec, type FaultSpec } from "../faults/inject.ts";
import type { LogLevel } from "../log/logger.ts";
import { registrySettings, type RegistrySettings } from "./registry-settings.ts";
import { settingsSchema, type Settings } from "./schema.ts";
import type { SubjectStrategy } from "../registry/subject-strategy.ts";

/** Ferry's typed configuration, compiled once at start. Nothing else reads the environment. */
export interface FerryConfig {
  kafka: {
    brokers: string[];
    clientId: string;
    securityProtocol: "plaintext" | "sasl_plaintext" | "ssl" | "sasl_ssl";
    sasl?: { mechanism: string; username: string; password: string };
  };
  database: { url: string; poolSize: number };
  handlersDir: string;
  groupPrefix: string;
  batchSize: number;
  partitionConcurrency: number;
  eventIdHeader: string;
  missingEventId: "dead-letter" | "derive";
  deadLetterSuffix: string;
  /** Create missing dead letter topics at start (like their source topic: same partition count). */
  createDeadLetterTopics: boolean;
  deadLetterReplicationFactor: number;
  /**
   * How long inbox rows (technical dedup) are kept. Must exceed the longest time a record can be
   * redelivered: the topics' retention (Kafka's default is 7 days), so the default is twice that.
   */
  inbox: { retentionHours: number; pruneIntervalMs: number };
  shutdownTimeoutMs: number;
  /** Health, readiness, metrics, the admin API and page listen here; port 0 picks a free port. */
  http: { host: string; port: number };
  /** The admin API and page; without a token they are served on a loopback host only. */
  admin: { enabled: boolean; token?: string };
  /** Watch the handlers directory and add, swap or remove handlers without a restart. */
  watchHandlers: boolean;
  /** /healthz fails when a batch has been running longer than this. */
  healthStallMs: number;
  /** A partition with records that has not advanced for this long is reported stalled (/readyz, metrics, log, admin page). */
  partitionStallMs: number;
  /** Resident memory above which a full garbage collection runs (memory-governor.ts); 0: never forced. */
  memoryTargetMb: number;
  /** Avro handlers: the registry (required when one uses format "avro"), subject naming, and the start-up gate. */
  schemas: { registry?: RegistrySettings; strategy: SubjectStrategy; gate: "fail" | "not-ready" };
  logLevel: LogLevel;
  /** Test-only (FERRY_FAULT_INJECT): where the worker kills itself. Absent in production. */
  faultInject?: FaultSpec;
}

/**
 * Reads settings from environment-style variables (flags are mapped onto the same names by the CLI)
 * and reports every problem at once, each naming its variable.
 */
export function loadConfig(source: Record<string, string | undefined>): FerryConfig {
  const s = parseSettings(settingsSchema, source);
  const registry = registrySettings(s);
  return {
    kafka: loadKafkaConnection(s),
    database: { url: s.FERRY_DATABASE_URL, poolSize: s.FERRY_DATABASE_POOL_SIZE },
    handlersDir: s.FERRY_HANDLERS_DIR,
    groupPrefix: s.FERRY_GROUP_PREFIX,
    batchSize: s.FERRY_BATCH_SIZE,
    partitionConcurrency: s.FERRY_PARTITION_CONCURRENCY,
    eventIdHeader: s.FERRY_EVENT_ID_HEADER,
    missingEventId: s.FERRY_MISSING_EVENT_ID,
    deadLetterSuffix: s.FERRY_DEAD_LETTER_SUFFIX,
    createDeadLetterTopics: s.FERRY_CREATE_DEAD_LETTER_TOPICS === "true",
    deadLetterReplicationFactor: s.FERRY_DEAD_LETTER_REPLICATION_FACTOR,
    inbox: { retentionHours: s.FERRY_INBOX_RETENTION_HOURS, pruneIntervalMs: s.FERRY_INBOX_PRUNE_INTERVAL_MS },
    shutdownTimeoutMs: s.FERRY_SHUTDOWN_TIMEOUT_MS,
    http: { host: s.FERRY_HTTP_HOST, port: s.FERRY_HTTP_PORT },
    admin: loadAdmin(s),
    watchHandlers: s.FERRY_HANDLERS_WATCH === "true",
    healthStallMs: s.FERRY_HEALTH_STALL_MS,
    partitionStallMs: s.FERRY_PARTITION_STALL_MS,
    memoryTargetMb: s.FERRY_MEMORY_TARGET_MB,
    schemas: { ...(registry ? { registry } : {}), strategy: s.FERRY_SCHEMA_SUBJECT_STRATEGY, gate: s.FERRY_SCHEMA_GATE },
    logLevel: s.FERRY_LOG_LEVEL,
    ...(s.FERRY_FAULT_INJECT ? { faultInject: parseFaultSpec(s.FERRY_FAULT_INJECT) } : {}),
  };
}

const isLoopback = (host: string) => host === "localhost" || host === "::1" || host === "[::1]" || /^127\.\d+\.\d+\.\d+$/.test(host);

/** The admin API can pause handlers and replay dead letters: beyond this machine it needs a token. */
function loadAdmin(s: Settings): FerryConfig["admin"] {
  const enabled = s.FERRY_ADMIN_API === "true";
  if (enabled && !s.FERRY_ADMIN_TOKEN && !isLoopback(s.FERRY_HTTP_HOST)) {
    throw new ConfigError([
      `FERRY_HTTP_HOST=${s.FERRY_HTTP_HOST} would expose the admin API beyond this machine without a token: set FERRY_ADMIN_TOKEN (a bearer token of 16+ characters), or FERRY_ADMIN_API=false, or a loopback FERRY_HTTP_HOST`,
    ]);
  }
  return { enabled, ...(s.FERRY_ADMIN_TOKEN ? { token: s.FERRY_ADMIN_TOKEN } : {}) };
}

/** Only what `ferry migrate` needs: the database, and optionally a handlers directory. */
/** Only what `ferry healthcheck` needs: where the worker's HTTP endpoint listens. */
export function loadHealthcheckConfig(source: Record<string, string | undefined>): { port: number } {
  const s = parseSettings(v.object(v.pick(settingsSchema, ["FERRY_HTTP_PORT"]).entries), source);
  return { port: s.FERRY_HTTP_PORT };
}

export function loadMigrateConfig(source: Record<string, string | undefined>): { databaseUrl: string; handlersDir?: string; logLevel: LogLevel } {
  const schema = v.object({
    ...v.pick(settingsSchema, ["FERRY_DATABASE_URL", "FERRY_LOG_LEVEL"]).entries,
    FERRY_HANDLERS_DIR: v.optional(v.string()),
  });
  const s = parseSettings(schema, source);
  return { databaseUrl: s.FERRY_DATABASE_URL, logLevel: s.FERRY_LOG_LEVEL, ...(s.FERRY_HANDLERS_DIR ? { handlersDir: s.FERRY_HANDLERS_DIR } : {}) };
}

export const kafkaSettingNames = [
  "FERRY_KAFKA_BROKERS",
  "FERRY_KAFKA_CLIENT_ID",
  "FERRY_KAFKA_SECURITY_PROTOCOL",
  "FERRY_KAFKA_SASL_MECHANISM",
  "FERRY_KAFKA_SASL_USERNAME",
  "FERRY_KAFKA_SASL_PASSWORD",
] as const;

type KafkaSettings = Pick<Settings, (typeof kafkaSettingNames)[number]>;

/** The Kafka connection from its settings (SASL needs username and password). */
export function loadKafkaConnection(s: KafkaSettings): FerryConfig["kafka"] {
  const usesSasl = s.FERRY_KAFKA_SECURITY_PROTOCOL.startsWith("sasl");
  if (usesSasl && (!s.FERRY_KAFKA_SASL_USERNAME || !s.FERRY_KAFKA_SASL_PASSWORD)) {
    throw new ConfigError([`FERRY_KAFKA_SECURITY_PROTOCOL=${s.FERRY_KAFKA_SECURITY_PROTOCOL} needs FERRY_KAFKA_SASL_USERNAME and FERRY_KAFKA_SASL_PASSWORD`]);
  }
  return {
    brokers: s.FERRY_KAFKA_BROKERS,
    clientId: s.FERRY_KAFKA_CLIENT_ID,
    securityProtocol: s.FERRY_KAFKA_SECURITY_PROTOCOL,
    ...(usesSasl ? { sasl: { mechanism: s.FERRY_KAFKA_SASL_MECHANISM, username: s.FERRY_KAFKA_SASL_USERNAME!, password: s.FERRY_KAFKA_SASL_PASSWORD! } } : {}),
  };
}

/** What `ferry topology plan|apply` needs: Kafka as admin, the files, and `ferry run`'s naming settings for --handlers. */
export interface TopologyConfig {
  kafka: FerryConfig["kafka"];
  files: string[];
  handlersDir?: string;
  service?: string;
  groupPrefix: string;
  deadLetterSuffix: string;
  format: "text" | "json";
  allowDelete: boolean;
  logLevel: LogLevel;
}

export function loadTopologyConfig(source: Record<string, string | undefined>): TopologyConfig {
  const schema = v.object({
    ...v.pick(settingsSchema, [
      ...kafkaSettingNames,
      "FERRY_GROUP_PREFIX",
      "FERRY_DEAD_LETTER_SUFFIX",
      "FERRY_TOPOLOGY_SERVICE",
      "FERRY_TOPOLOGY_FORMAT",
      "FERRY_TOPOLOGY_ALLOW_DELETE",
      "FERRY_LOG_LEVEL",
    ]).entries,
    FERRY_TOPOLOGY_FILE: v.pipe(
      v.string("the topology file is required: pass --file <path> or set FERRY_TOPOLOGY_FILE"),
      settingsSchema.entries.FERRY_TOPOLOGY_FILE.wrapped,
    ),
    FERRY_HANDLERS_DIR: v.optional(v.pipe(v.string(), v.trim(), v.minLength(1))),
  });
  const s = parseSettings(schema, source);
  return {
    kafka: loadKafkaConnection(s),
    files: s.FERRY_TOPOLOGY_FILE,
    ...(s.FERRY_HANDLERS_DIR ? { handlersDir: s.FERRY_HANDLERS_DIR } : {}),
    ...(s.FERRY_TOPOLOGY_SERVICE ? { service: s.FERRY_TOPOLOGY_SERVICE } : {}),
    groupPrefix: s.FERRY_GROUP_PREFIX,
    deadLetterSuffix: s.FERRY_DEAD_LETTER_SUFFIX,
    format: s.FERRY_TOPOLOGY_FORMAT,
    allowDelete: s.FERRY_TOPOLOGY_ALLOW_DELETE === "true",
    logLevel: s.FERRY_LOG_LEVEL,
  };
}

export function parseSettings<S extends v.GenericSchema>(schema: S, source: Record<string, string | undefined>): v.InferOutput<S> {
  const input = Object.fromEntries(Object.entries(source).filter(([k, val]) => k.startsWith("FERRY_") && val !== undefined && val !== ""));
  const parsed = v.safeParse(schema, input, { abortPipeEarly: true });
  if (!parsed.success) throw new ConfigError(parsed.issues.map((issue) => describeIssue(issue)));
  return parsed.output;
}

const whenMissing: Record<string, string> = {
  FERRY_KAFKA_BROKERS: "FERRY_KAFKA_BROKERS is required: a comma-separated list of host:port, e.g. 127.0.0.1:9092",
  FERRY_DATABASE_URL: "FERRY_DATABASE_URL is required: a PostgreSQL URL, e.g. postgres://user@127.0.0.1:5432/app",
  FERRY_HANDLERS_DIR: "the handlers directory is required: pass --handlers <dir> or set FERRY_HANDLERS_DIR",
  FERRY_TOPOLOGY_FILE: "the topology file is required: pass --file <path> or set FERRY_TOPOLOGY_FILE",
};

function describeIssue(issue: v.BaseIssue<unknown>): string {
  const name = issue.path?.map((p) => String(p.key)).join(".") ?? "configuration";
  if (issue.input === undefined && whenMissing[name]) return whenMissing[name];
  const got = issue.input === undefined ? "it is not set" : `got ${JSON.stringify(issue.input)}`;
  // valibot's messages here are ours and already name the variable; add what was received.
  const message = issue.message.includes("FERRY_") || issue.message.includes("--") ? issue.message : `${name}: ${issue.message}`;
  return `${message} (${got})`;
}
