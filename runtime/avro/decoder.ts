/**
 * Decodes framed Avro values: writer schema by id (already fetched: decoding is synchronous),
 * resolved to the handler's reader schema. Every way the bytes can be wrong is a DecodeError
 * with a reason the dead letter carries; a schema id that was never fetched is a bug upstream.
 * Before avsc sees a payload, the writer schema's strict guard (strict-guard.ts) has checked it:
 * valid UTF-8 strings, lengths and counts that fit the bytes, longs avsc decodes exactly.
 */
import { DecodeError, FerryError } from "../errors.ts";
import type { AvroType } from "./parse-schema.ts";
import { describe, resolutionIssues } from "./resolution.ts";
import { compileGuard, type Guard } from "./strict-guard.ts";
import { unframe } from "./wire-format.ts";

/** What a schema id stands for, once looked up. */
export type WriterSchema =
  | { kind: "avro"; type: AvroType }
  | { kind: "missing"; detail: string }
  | { kind: "unsupported"; schemaType: string }
  | { kind: "invalid"; detail: string };

/** A synchronous view of writer schemas that were fetched before decoding. */
export interface WriterSchemaSource {
  peek(schemaId: number): WriterSchema | undefined;
}

export type AvroDecode = (value: Buffer) => unknown;

type Resolver = ReturnType<AvroType["createResolver"]>;

/**
 * `reader` omitted: values decode with each writer's own schema (no evolution guarantees).
 * Resolvers are built once per writer id.
 */
export function createAvroDecoder({ reader, writers }: { reader?: AvroType; writers: WriterSchemaSource }): AvroDecode {
  const resolvers = new Map<number, { reader: AvroType; resolver?: Resolver; guard: Guard } | DecodeError>();

  const resolverFor = (schemaId: number) => {
    let entry = resolvers.get(schemaId);
    if (entry) return entry;
    const writer = writers.peek(schemaId);
    if (writer === undefined) throw new FerryError(`schema id ${schemaId} was not fetched before decoding: warm the schema cache first`);
    if (writer.kind === "missing") {
      entry = new DecodeError(
        "unknown-schema-id",
        `schema id ${schemaId} is not known to the schema registry (${writer.detail}): the producer wrote to another registry, or the schema was deleted`,
      );
    } else if (writer.kind === "unsupported") {
      entry = new DecodeError("unsupported-schema-type", `schema id ${schemaId} is a ${writer.schemaType} schema; this handler reads Avro`);
    } else if (writer.kind === "invalid") {
      entry = new DecodeError("invalid-writer-schema", `schema id ${schemaId} cannot be used: ${writer.detail}`);
    } else if (!reader) {
      entry = { reader: writer.type, guard: compileGuard(writer.type) };
    } else {
      const resolved = resolve(reader, writer.type, schemaId);
      entry = resolved instanceof DecodeError ? resolved : { ...resolved, guard: compileGuard(writer.type, reader) };
    }
    resolvers.set(schemaId, entry);
    return entry;
  };

  return (value) => {
    const { schemaId, payload } = unframe(value);
    const entry = resolverFor(schemaId);
    if (entry instanceof DecodeError) throw entry;
    try {
      entry.guard(payload);
      return entry.resolver ? entry.reader.fromBuffer(payload, entry.resolver) : entry.reader.fromBuffer(payload);
    } catch (e) {
      // The guard's own refusals name the field; anything avsc still throws after it is described here.
      if (e instanceof DecodeError) throw new DecodeError(e.reason, `${e.message}; written with schema id ${schemaId}`);
      throw payloadError(e as Error, schemaId, payload.length);
    }
  };
}

function resolve(reader: AvroType, writer: AvroType, schemaId: number): { reader: AvroType; resolver: Resolver } | DecodeError {
  const issues = resolutionIssues(reader, writer);
  if (issues.length > 0) {
    const what = issues.map((i) => `${i.path}: ${i.rule} (reader ${i.reader}, writer ${i.writer})`).join("; ");
    return new DecodeError(
      "schema-mismatch",
      `writer schema id ${schemaId} (${describe(writer)}) cannot be read with the handler's reader schema (${describe(reader)}): ${what}`,
    );
  }
  try {
    return { reader, resolver: reader.createResolver(writer, { ignoreNamespaces: true }) };
  } catch (e) {
    return new DecodeError("schema-mismatch", `writer schema id ${schemaId} cannot be read with the handler's reader schema: ${(e as Error).message}`, {
      cause: e,
    });
  }
}

function payloadError(error: Error, schemaId: number, length: number): DecodeError {
  const what = `the ${length}-byte Avro payload does not match writer schema id ${schemaId}`;
  if (/truncated/.test(error.message)) return new DecodeError("truncated-payload", `${what}: it ends early (truncated)`, { cause: error });
  if (/trailing data/.test(error.message)) return new DecodeError("trailing-bytes", `${what}: bytes are left over after the value`, { cause: error });
  return new DecodeError("invalid-payload", `${what}: ${error.message}`, { cause: error });
}
