/** Settings of `ferry schemas …` and `ferry produce`, over the same schema and parser as the rest. */
import * as v from "valibot";
import type { CompatibilityLevel } from "../avro/compatibility.ts";
import { ConfigError } from "../errors.ts";
import type { SubjectStrategy } from "../registry/subject-strategy.ts";
import { kafkaSettingNames, loadKafkaConnection, parseSettings, type FerryConfig } from "./load.ts";
import { registrySettingNames, registrySettings, type RegistrySettings } from "./registry-settings.ts";
import { settingsSchema } from "./schema.ts";

export interface SchemasConfig {
  dir: string;
  registry?: RegistrySettings;
  strategy: SubjectStrategy;
  format: "text" | "json";
  offline: boolean;
  dryRun: boolean;
  checkOnly: boolean;
  level: CompatibilityLevel;
  /** `--handlers`: also the schemas these handlers publish with (`publishes`). */
  handlersDir?: string;
}

export function loadSchemasConfig(source: Record<string, string | undefined>): SchemasConfig {
  const schema = v.object(
    v.pick(settingsSchema, [
      ...registrySettingNames,
      "FERRY_SCHEMAS_DIR",
      "FERRY_SCHEMAS_FORMAT",
      "FERRY_SCHEMAS_OFFLINE",
      "FERRY_SCHEMAS_DRY_RUN",
      "FERRY_SCHEMAS_CHECK_ONLY",
      "FERRY_SCHEMA_COMPATIBILITY",
      "FERRY_SCHEMAS_HANDLERS_DIR",
    ]).entries,
  );
  const s = parseSettings(schema, source);
  const registry = registrySettings(s);
  return {
    dir: s.FERRY_SCHEMAS_DIR,
    ...(registry ? { registry } : {}),
    strategy: s.FERRY_SCHEMA_SUBJECT_STRATEGY,
    format: s.FERRY_SCHEMAS_FORMAT,
    offline: s.FERRY_SCHEMAS_OFFLINE === "true",
    dryRun: s.FERRY_SCHEMAS_DRY_RUN === "true",
    checkOnly: s.FERRY_SCHEMAS_CHECK_ONLY === "true",
    level: s.FERRY_SCHEMA_COMPATIBILITY,
    ...(s.FERRY_SCHEMAS_HANDLERS_DIR ? { handlersDir: s.FERRY_SCHEMAS_HANDLERS_DIR } : {}),
  };
}

export interface ProduceConfig {
  kafka: FerryConfig["kafka"];
  registry: RegistrySettings;
  strategy: SubjectStrategy;
  topic: string;
  schemaFile: string;
  keyField?: string;
  /** A file of JSON lines, or "-" for standard input. */
  input: string;
  envelope: boolean;
  autoRegister: boolean;
  eventIdHeader: string;
  format: "text" | "json";
}

export function loadProduceConfig(source: Record<string, string | undefined>): ProduceConfig {
  const schema = v.object(
    v.pick(settingsSchema, [
      ...kafkaSettingNames,
      ...registrySettingNames,
      "FERRY_PRODUCE_TOPIC",
      "FERRY_PRODUCE_SCHEMA",
      "FERRY_PRODUCE_KEY_FIELD",
      "FERRY_PRODUCE_INPUT",
      "FERRY_PRODUCE_ENVELOPE",
      "FERRY_PRODUCE_AUTO_REGISTER",
      "FERRY_PRODUCE_FORMAT",
      "FERRY_EVENT_ID_HEADER",
    ]).entries,
  );
  const s = parseSettings(schema, source);
  const missing = [
    s.FERRY_SCHEMA_REGISTRY_URL ? "" : "the schema registry is required: pass --registry-url <url> or set FERRY_SCHEMA_REGISTRY_URL",
    s.FERRY_PRODUCE_TOPIC ? "" : "the topic is required: pass --topic <name> or set FERRY_PRODUCE_TOPIC",
    s.FERRY_PRODUCE_SCHEMA ? "" : "the value schema is required: pass --schema <file.avsc> or set FERRY_PRODUCE_SCHEMA",
  ].filter(Boolean);
  if (missing.length > 0) throw new ConfigError(missing);
  return {
    kafka: loadKafkaConnection(s),
    registry: registrySettings(s)!,
    strategy: s.FERRY_SCHEMA_SUBJECT_STRATEGY,
    topic: s.FERRY_PRODUCE_TOPIC!,
    schemaFile: s.FERRY_PRODUCE_SCHEMA!,
    ...(s.FERRY_PRODUCE_KEY_FIELD ? { keyField: s.FERRY_PRODUCE_KEY_FIELD } : {}),
    input: s.FERRY_PRODUCE_INPUT,
    envelope: s.FERRY_PRODUCE_ENVELOPE === "true",
    autoRegister: s.FERRY_PRODUCE_AUTO_REGISTER === "true",
    eventIdHeader: s.FERRY_EVENT_ID_HEADER,
    format: s.FERRY_PRODUCE_FORMAT,
  };
}
