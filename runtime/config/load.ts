import * as v from "valibot";
import { ConfigError } from "../errors.ts";
import { parseFaultSpec, type FaultSpec } from "../faults/inject.ts";
import type { LogLevel } from "../log/logger.ts";
import { databaseSettingNames, loadDatabaseConnection, type DatabaseConnection } from "./database-settings.ts";
import { registrySettings, type RegistrySettings } from "./registry-settings.ts";
import { defaultMemoryTargetMb, fittedBatchSize, settingsSchema, DEFAULT_BATCH_SIZE, type Settings } from "./schema.ts";
import { memoryLimitMb as readMemoryLimitMb } from "./memory-limit.ts";
import { describeSecretInput, fileVariant, isSecretSetting, resolveSecretFiles, secretSettings } from "./secret-files.ts";
import { pemFilesProblems } from "./tls-files.ts";
import { loadConsumerGroupSettings, type ConsumerGroupSettings } from "./consumer-settings.ts";
import { loadTelemetrySettings, type TelemetrySettings } from "./telemetry-settings.ts";
import type { SubjectStrategy } from "../registry/subject-strategy.ts";

/** Ferry's typed configuration, compiled once at start. Nothing else reads the environment. */
export interface FerryConfig {
  kafka: {
    brokers: string[];
    clientId: string;
    securityProtocol: "plaintext" | "sasl_plaintext" | "ssl" | "sasl_ssl";
    sasl?: { mechanism: string; username: string; password: string };
    /** ssl and sasl_ssl: paths of PEM files (CA; client certificate and key for mutual TLS). */
    tls?: { caFile?: string; certFile?: string; keyFile?: string; keyPassword?: string };
  };
  /** The consumer groups: session, heartbeat, poll interval, static membership. */
  consumer: ConsumerGroupSettings;
  database: DatabaseConnection & { poolSize: number };
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
  /**
   * The outbox relay: rows per send, the idle poll; sent rows deleted once Kafka acknowledged them
   * (`retentionHours` 0) or marked sent and kept that long (pruned with the inbox); /readyz fails
   * while the oldest unsent row is older than `readyAgeMs`.
   */
  outbox: { batchSize: number; pollIntervalMs: number; retentionHours: number; readyAgeMs: number; turnIdleMs: number };
  shutdownTimeoutMs: number;
  /** `ferry run` waits this long for PostgreSQL, Kafka and the registry to be reachable at start. */
  startupTimeoutMs: number;
  /** Each dependency check (readiness, outage watch) is bounded by checkTimeoutMs; the watch runs every checkIntervalMs. */
  health: { checkTimeoutMs: number; checkIntervalMs: number };
  /** Health, readiness, metrics, the admin API and page listen here; port 0 picks a free port. */
  http: { host: string; port: number };
  /** The admin API and page; without a token they are served on a loopback host only. */
  admin: { enabled: boolean; token?: string };
  /** Watch the handlers directory and add, swap or remove handlers without a restart. */
  watchHandlers: boolean;
  /** How long importing one handler module may take, at start and at hot-add. */
  handlerImportTimeoutMs: number;
  /** A handler file that cannot be loaded at start stops it (`fail`) or is left out, /readyz saying why (`not-ready`). */
  handlerGate: "fail" | "not-ready";
  /** /healthz fails when a batch has been running longer than this. */
  healthStallMs: number;
  /** A partition with records that has not advanced for this long is reported stalled (/readyz, metrics, log, admin page). */
  partitionStallMs: number;
  /** JavaScript heap size above which a full garbage collection runs (memory/governor.ts); 0: never forced. */
  memoryTargetMb: number;
  /** The process's memory limit (its cgroup's), when it has one below the machine's memory. */
  memoryLimitMb?: number;
  /** Where `batchSize` came from: FERRY_BATCH_SIZE, the default, or the default lowered to fit `memoryLimitMb`. */
  batchSizeSource: "setting" | "default" | "memory-limit";
  /** A `handler:progress` log line per handler this often; 0: never. */
  progressIntervalMs: number;
  /** OpenTelemetry trace export (OTEL_*); absent: no SDK, spans are no-ops. */
  telemetry?: TelemetrySettings;
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
export function loadConfig(
  source: Record<string, string | undefined>,
  { memoryLimit = readMemoryLimitMb }: { memoryLimit?: () => number | undefined } = {},
): FerryConfig {
  const s = parseSettings(settingsSchema, source);
  const memoryLimitMb = memoryLimit();
  const batchSize = s.FERRY_BATCH_SIZE ?? fittedBatchSize(memoryLimitMb, s.FERRY_PARTITION_CONCURRENCY);
  const registry = registrySettings(s);
  const telemetry = loadTelemetrySettings(s);
  return {
    kafka: loadKafkaConnection(s),
    consumer: loadConsumerGroupSettings(s),
    database: { ...loadDatabaseConnection(s), poolSize: s.FERRY_DATABASE_POOL_SIZE },
    handlersDir: s.FERRY_HANDLERS_DIR,
    groupPrefix: s.FERRY_GROUP_PREFIX,
    batchSize,
    batchSizeSource: s.FERRY_BATCH_SIZE !== undefined ? "setting" : batchSize === DEFAULT_BATCH_SIZE ? "default" : "memory-limit",
    partitionConcurrency: s.FERRY_PARTITION_CONCURRENCY,
    eventIdHeader: s.FERRY_EVENT_ID_HEADER,
    missingEventId: s.FERRY_MISSING_EVENT_ID,
    deadLetterSuffix: s.FERRY_DEAD_LETTER_SUFFIX,
    createDeadLetterTopics: s.FERRY_CREATE_DEAD_LETTER_TOPICS === "true",
    deadLetterReplicationFactor: s.FERRY_DEAD_LETTER_REPLICATION_FACTOR,
    inbox: { retentionHours: s.FERRY_INBOX_RETENTION_HOURS, pruneIntervalMs: s.FERRY_INBOX_PRUNE_INTERVAL_MS },
    outbox: {
      batchSize: s.FERRY_OUTBOX_BATCH_SIZE,
      pollIntervalMs: s.FERRY_OUTBOX_POLL_MS,
      retentionHours: s.FERRY_OUTBOX_RETENTION_HOURS,
      readyAgeMs: s.FERRY_OUTBOX_READY_AGE_MS,
      turnIdleMs: s.FERRY_OUTBOX_TURN_IDLE_MS,
    },
    shutdownTimeoutMs: s.FERRY_SHUTDOWN_TIMEOUT_MS,
    startupTimeoutMs: s.FERRY_STARTUP_TIMEOUT_MS,
    health: { checkTimeoutMs: s.FERRY_HEALTH_CHECK_TIMEOUT_MS, checkIntervalMs: s.FERRY_HEALTH_CHECK_INTERVAL_MS },
    http: { host: s.FERRY_HTTP_HOST, port: s.FERRY_HTTP_PORT },
    admin: loadAdmin(s),
    watchHandlers: s.FERRY_HANDLERS_WATCH === "true",
    handlerImportTimeoutMs: s.FERRY_HANDLER_IMPORT_TIMEOUT_MS,
    handlerGate: s.FERRY_HANDLER_GATE,
    healthStallMs: s.FERRY_HEALTH_STALL_MS,
    partitionStallMs: s.FERRY_PARTITION_STALL_MS,
    memoryTargetMb: s.FERRY_MEMORY_TARGET_MB ?? defaultMemoryTargetMb(memoryLimitMb),
    ...(memoryLimitMb !== undefined ? { memoryLimitMb } : {}),
    progressIntervalMs: s.FERRY_PROGRESS_INTERVAL_MS,
    ...(telemetry ? { telemetry } : {}),
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

export function loadMigrateConfig(source: Record<string, string | undefined>): { database: DatabaseConnection; handlersDir?: string; logLevel: LogLevel } {
  const schema = v.object({
    ...v.pick(settingsSchema, [...databaseSettingNames, "FERRY_DATABASE_URL_FILE", "FERRY_LOG_LEVEL"]).entries,
    FERRY_HANDLERS_DIR: v.optional(v.string()),
  });
  const s = parseSettings(schema, source);
  return { database: loadDatabaseConnection(s), logLevel: s.FERRY_LOG_LEVEL, ...(s.FERRY_HANDLERS_DIR ? { handlersDir: s.FERRY_HANDLERS_DIR } : {}) };
}

export const kafkaSettingNames = [
  "FERRY_KAFKA_BROKERS",
  "FERRY_KAFKA_CLIENT_ID",
  "FERRY_KAFKA_SECURITY_PROTOCOL",
  "FERRY_KAFKA_SASL_MECHANISM",
  "FERRY_KAFKA_SASL_USERNAME",
  "FERRY_KAFKA_SASL_PASSWORD",
  "FERRY_KAFKA_SASL_PASSWORD_FILE",
  "FERRY_KAFKA_SSL_CA_FILE",
  "FERRY_KAFKA_SSL_CERT_FILE",
  "FERRY_KAFKA_SSL_KEY_FILE",
  "FERRY_KAFKA_SSL_KEY_PASSWORD",
  "FERRY_KAFKA_SSL_KEY_PASSWORD_FILE",
] as const;

type KafkaSettings = Pick<Settings, (typeof kafkaSettingNames)[number]>;

/**
 * The Kafka connection from its settings: SASL needs username and password; TLS files only make
 * sense with a TLS protocol, a client certificate comes with its key, and every file is readable PEM.
 */
export function loadKafkaConnection(s: KafkaSettings): FerryConfig["kafka"] {
  const protocol = s.FERRY_KAFKA_SECURITY_PROTOCOL;
  const usesSasl = protocol.startsWith("sasl");
  const usesTls = protocol === "ssl" || protocol === "sasl_ssl";
  const files = {
    FERRY_KAFKA_SSL_CA_FILE: s.FERRY_KAFKA_SSL_CA_FILE,
    FERRY_KAFKA_SSL_CERT_FILE: s.FERRY_KAFKA_SSL_CERT_FILE,
    FERRY_KAFKA_SSL_KEY_FILE: s.FERRY_KAFKA_SSL_KEY_FILE,
  };
  const problems: string[] = [];
  if (usesSasl && (!s.FERRY_KAFKA_SASL_USERNAME || !s.FERRY_KAFKA_SASL_PASSWORD)) {
    problems.push(
      `FERRY_KAFKA_SECURITY_PROTOCOL=${protocol} needs FERRY_KAFKA_SASL_USERNAME and FERRY_KAFKA_SASL_PASSWORD (or FERRY_KAFKA_SASL_PASSWORD_FILE)`,
    );
  }
  const tlsSettings = [...Object.entries(files), ["FERRY_KAFKA_SSL_KEY_PASSWORD", s.FERRY_KAFKA_SSL_KEY_PASSWORD]]
    .filter(([, value]) => value)
    .map(([name]) => name);
  if (!usesTls && tlsSettings.length > 0) {
    problems.push(
      `${tlsSettings.join(", ")} ${tlsSettings.length === 1 ? "is" : "are"} set but FERRY_KAFKA_SECURITY_PROTOCOL=${protocol} does not use TLS: set it to ssl or sasl_ssl`,
    );
  }
  if (Boolean(s.FERRY_KAFKA_SSL_CERT_FILE) !== Boolean(s.FERRY_KAFKA_SSL_KEY_FILE)) {
    problems.push("FERRY_KAFKA_SSL_CERT_FILE and FERRY_KAFKA_SSL_KEY_FILE are set together (a client certificate and its key) or not at all");
  }
  if (s.FERRY_KAFKA_SSL_KEY_PASSWORD && !s.FERRY_KAFKA_SSL_KEY_FILE) problems.push("FERRY_KAFKA_SSL_KEY_PASSWORD is set without FERRY_KAFKA_SSL_KEY_FILE");
  problems.push(...pemFilesProblems(files));
  if (problems.length > 0) throw new ConfigError(problems);
  const tls = {
    ...(s.FERRY_KAFKA_SSL_CA_FILE ? { caFile: s.FERRY_KAFKA_SSL_CA_FILE } : {}),
    ...(s.FERRY_KAFKA_SSL_CERT_FILE ? { certFile: s.FERRY_KAFKA_SSL_CERT_FILE } : {}),
    ...(s.FERRY_KAFKA_SSL_KEY_FILE ? { keyFile: s.FERRY_KAFKA_SSL_KEY_FILE } : {}),
    ...(s.FERRY_KAFKA_SSL_KEY_PASSWORD ? { keyPassword: s.FERRY_KAFKA_SSL_KEY_PASSWORD } : {}),
  };
  return {
    brokers: s.FERRY_KAFKA_BROKERS,
    clientId: s.FERRY_KAFKA_CLIENT_ID,
    securityProtocol: protocol,
    ...(usesSasl ? { sasl: { mechanism: s.FERRY_KAFKA_SASL_MECHANISM, username: s.FERRY_KAFKA_SASL_USERNAME!, password: s.FERRY_KAFKA_SASL_PASSWORD! } } : {}),
    ...(usesTls && Object.keys(tls).length > 0 ? { tls } : {}),
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

/**
 * Validates the FERRY_* (and OpenTelemetry's OTEL_*) settings `schema` names. Secrets given as files (FERRY_X_FILE) are read
 * first, so their values pass the same checks; a file that cannot be used is reported instead of
 * the setting it stands for.
 */
export function parseSettings<S extends v.ObjectSchema<v.ObjectEntries, v.ErrorMessage<v.ObjectIssue> | undefined>>(
  schema: S,
  source: Record<string, string | undefined>,
): v.InferOutput<S> {
  const given = Object.fromEntries(
    Object.entries(source).filter(([k, val]) => (k.startsWith("FERRY_") || k.startsWith("OTEL_")) && val !== undefined && val !== ""),
  ) as Record<string, string>;
  const { input, issues: fileIssues } = resolveSecretFiles(given, (name) => name in schema.entries);
  const reportedByFile = new Set(
    secretSettings.filter((name) => fileIssues.some((issue) => issue.startsWith(`${name} `) || issue.startsWith(`${fileVariant(name)}=`))),
  );
  const parsed = v.safeParse(schema, input, { abortPipeEarly: true });
  const issues = parsed.success ? [] : parsed.issues.filter((issue) => !reportedByFile.has(issueName(issue) as never));
  const fromFile = (name: string) => (isSecretSetting(name) && given[fileVariant(name as never)] ? given[fileVariant(name as never)] : undefined);
  const problems = [...fileIssues, ...issues.map((issue) => describeIssue(issue, fromFile))];
  if (problems.length > 0 || !parsed.success) throw new ConfigError(problems);
  return parsed.output;
}

const issueName = (issue: v.BaseIssue<unknown>) => issue.path?.map((p) => String(p.key)).join(".") ?? "configuration";

const whenMissing: Record<string, string> = {
  FERRY_KAFKA_BROKERS: "FERRY_KAFKA_BROKERS is required: a comma-separated list of host:port, e.g. 127.0.0.1:9092",
  FERRY_DATABASE_URL: "FERRY_DATABASE_URL (or FERRY_DATABASE_URL_FILE) is required: a PostgreSQL URL, e.g. postgres://user@127.0.0.1:5432/app",
  FERRY_HANDLERS_DIR: "the handlers directory is required: pass --handlers <dir> or set FERRY_HANDLERS_DIR",
  FERRY_TOPOLOGY_FILE: "the topology file is required: pass --file <path> or set FERRY_TOPOLOGY_FILE",
};

function describeIssue(issue: v.BaseIssue<unknown>, fromFile: (name: string) => string | undefined): string {
  const name = issueName(issue);
  if (issue.input === undefined && whenMissing[name]) return whenMissing[name];
  // A secret is never echoed, not even a wrong one: it may be the right one for something else.
  const got =
    issue.input === undefined ? "it is not set" : isSecretSetting(name) ? describeSecretInput(name, String(issue.input)) : `got ${JSON.stringify(issue.input)}`;
  const file = fromFile(name);
  // valibot's messages here are ours and already name the variable; add what was received.
  const message =
    issue.message.includes("FERRY_") || issue.message.includes("OTEL_") || issue.message.includes("--") ? issue.message : `${name}: ${issue.message}`;
  return `${message} (${got}${file ? `, read from ${fileVariant(name as never)}=${file}` : ""})`;
}
