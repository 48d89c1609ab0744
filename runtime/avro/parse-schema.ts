/**
 * Turns Avro schema JSON into avsc types, the one way Ferry does it everywhere (files, registry,
 * handlers), so decoding, code generation and compatibility see the same shapes.
 */
import { Type, type Schema } from "avsc";
import { SchemaError } from "../errors.ts";

export type AvroType = Type;

/**
 * Unions are unwrapped when avsc can tell the branches apart by value (`["null","string"]` →
 * `string | null`) and wrapped (`{ "ns.Name": value }`) otherwise; records decode to plain
 * objects without avsc's helper methods. Logical types stay their underlying type
 * (timestamp-millis is a number of milliseconds, decimal is bytes).
 */
export const typeOptions = { wrapUnions: "auto", omitRecordMethods: true } as const;

/** Parses a schema object; `source` (a file path, "registry id 7", ...) goes into the error. */
export function parseSchema(schema: unknown, source: string, text?: string): AvroType {
  try {
    return Type.forSchema(schema as Schema, { ...typeOptions });
  } catch (e) {
    const message = (e as Error).message;
    throw new SchemaError(`invalid Avro schema: ${message}`, locate(source, text, message), { cause: e });
  }
}

/** Parses the text of an `.avsc` file (or a registry response's `schema` string). */
export function parseSchemaText(text: string, source: string): AvroType {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new SchemaError(`not valid JSON: ${(e as Error).message}`, { file: source }, { cause: e });
  }
  return parseSchema(json, source, text);
}

/** The full name of a named type (record, enum, fixed), else undefined. */
export function fullNameOf(type: AvroType): string | undefined {
  return type.name ?? undefined;
}

/** The schema in Avro's Parsing Canonical Form: what registries compare and fingerprint. */
export function canonicalText(type: AvroType): string {
  return JSON.stringify(type.schema());
}

// There is deliberately no "type → full JSON" here: avsc 5.7.9's schema({ exportAttrs: true })
// drops an enum's `default`, which changes compatibility. Files and registrations use the JSON
// as written instead.

/**
 * avsc reports names, not positions: point at the first line of the text that mentions a name
 * the message quotes, so "undefined type name: strin" points at the line that says "strin".
 */
export function locate(file: string, text: string | undefined, message: string): { file: string; line?: number } {
  if (!text) return { file };
  const lines = text.split("\n");
  // A bad default: find the `= value` (IDL) or `"default": value` (JSON) that holds it.
  const badDefault = /field default (.+?) \(invalid/.exec(message)?.[1];
  if (badDefault) {
    const escaped = badDefault.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    const index = lines.findIndex((l) => new RegExp(`(=|"default"\\s*:)\\s*${escaped}`).test(l));
    if (index >= 0) return { file, line: index + 1 };
  }
  for (const match of message.matchAll(/"([^"\s]+)"|name: ([^\s"]+)/g)) {
    const bare = (match[1] ?? match[2]!)
      .split(".")
      .pop()!
      .replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    const pattern = new RegExp(`(^|[^\\w])${bare}($|[^\\w])`);
    const index = lines.findIndex((l) => pattern.test(l));
    if (index >= 0) return { file, line: index + 1 };
  }
  return { file };
}
