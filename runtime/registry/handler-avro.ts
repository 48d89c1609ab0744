/**
 * Wires Avro handlers to the registry: each handler's reader schema, one shared schema cache
 * (ids fetched once per process for all handlers), a decoder per handler, and the start-up gate.
 */
import path from "node:path";
import { createAvroDecoder, type AvroDecode } from "../avro/decoder.ts";
import { parseSchema, type AvroType } from "../avro/parse-schema.ts";
import { peekSchemaId } from "../avro/wire-format.ts";
import type { FerryConfig } from "../config/load.ts";
import { ConfigError, HandlerLoadError, SchemaGateError } from "../errors.ts";
import type { LoadedHandler } from "../handlers/validate.ts";
import type { KafkaRecord } from "../kafka/port.ts";
import type { Logger } from "../log/logger.ts";
import { loadSchemaFile } from "../schemas/catalog.ts";
import { checkReader } from "../schemas/gate.ts";
import type { RegistryClient } from "./client.ts";
import { connectRegistry } from "./connect.ts";
import { createSchemaCache, type SchemaCache } from "./schema-cache.ts";

export interface AvroDecoding {
  /** Fetches the writer schemas of these records that are not cached yet (throws RegistryUnavailableError when the registry is down). */
  warm(records: readonly KafkaRecord[]): Promise<void>;
  decode: AvroDecode;
}

export interface HandlerAvro {
  /** Per handler name, for the handlers with format "avro". */
  decoding: Map<string, AvroDecoding>;
  /** Handlers the gate held back (FERRY_SCHEMA_GATE=not-ready), with why: they are not started. */
  held: Map<string, string[]>;
}

/** One registry client and one schema cache for the whole process, handlers added later included. */
export interface AvroRegistry {
  client: RegistryClient;
  cache: SchemaCache;
}

export function connectAvroRegistry(settings: FerryConfig["schemas"]): AvroRegistry | undefined {
  if (!settings.registry) return undefined;
  const client = connectRegistry(settings.registry);
  return { client, cache: createSchemaCache(client) };
}

/** `shared` should be the engine's one AvroRegistry, so each schema id is fetched once per process. */
export async function prepareHandlerAvro(
  handlers: readonly LoadedHandler[],
  settings: FerryConfig["schemas"],
  log: Logger,
  shared?: AvroRegistry,
): Promise<HandlerAvro> {
  const result: HandlerAvro = { decoding: new Map(), held: new Map() };
  const avroHandlers = handlers.filter((h) => h.format === "avro");
  if (avroHandlers.length === 0) return result;
  const connected = shared ?? connectAvroRegistry(settings);
  if (!connected) {
    throw new ConfigError([`handler(s) ${avroHandlers.map((h) => h.name).join(", ")} read Avro: set FERRY_SCHEMA_REGISTRY_URL to the schema registry`]);
  }
  const { client: registry, cache } = connected;
  const failures: string[] = [];
  for (const handler of avroHandlers) {
    const reader = await readerSchemaOf(handler);
    if (reader) {
      const report = await checkReader(handler, reader, registry, settings.strategy);
      log.info("schemas:gate-checked", { handler: handler.name, reader: reader.name, subjects: report.subjects, problems: report.problems.length });
      if (report.problems.length > 0 && settings.gate === "not-ready") {
        log.error("schemas:handler-held", { handler: handler.name, problems: report.problems });
        result.held.set(handler.name, report.problems);
      }
      failures.push(...report.problems);
    }
    result.decoding.set(handler.name, {
      warm: (records) => cache.warm(records.map((r) => peekSchemaId(r.value)).filter((id): id is number => id !== null)),
      decode: createAvroDecoder({ ...(reader ? { reader } : {}), writers: cache }),
    });
  }
  if (failures.length > 0 && settings.gate === "fail") throw new SchemaGateError(failures);
  return result;
}

/** The handler's Avro reader schema (its `schema` option, a file relative to the handler or an object), if it has one. */
export async function readerSchemaOf(handler: LoadedHandler): Promise<AvroType | undefined> {
  if (handler.schema === undefined) return undefined;
  try {
    if (typeof handler.schema !== "string") return parseSchema(handler.schema, handler.file);
    return (await loadSchemaFile(path.resolve(path.dirname(handler.file), handler.schema))).type;
  } catch (e) {
    throw new HandlerLoadError(handler.file, [`its Avro \`schema\` cannot be used: ${(e as Error).message}`], { cause: e });
  }
}
