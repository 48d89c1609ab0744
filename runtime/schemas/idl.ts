/**
 * Avro IDL (.avdl) → standalone schemas, with avsc's IDL reader (assembleProtocol: protocol
 * syntax, imports of .avdl/.avpr/.avsc, annotations such as @namespace, @aliases, @logicalType,
 * javadoc as `doc`, field defaults, `enum … = DEFAULT;`). Not in avsc's dialect: Avro 1.12's
 * `schema` declarations, the `T?` shorthand and `decimal(p,s)`; write `union { null, T }` and
 * `@logicalType("decimal") @precision(p) @scale(s) bytes`. Every error names the file and line.
 */
import { assembleProtocol } from "avsc";
import { readFile } from "node:fs/promises";
import { locate, parseSchema } from "../avro/parse-schema.ts";
import { rootRecords, standaloneSchema } from "../avro/standalone.ts";
import { SchemaError } from "../errors.ts";

export interface CompiledSchema {
  /** Full name of the root record, e.g. `shop.orders.OrderPlaced`. */
  name: string;
  schema: Record<string, unknown>;
}

interface IdlError extends Error {
  path?: string;
  lineNum?: number;
  token?: { pos: number; val?: string };
}

/** Compiles one IDL file into one schema per root record (a record no other type refers to). */
export async function compileIdl(file: string): Promise<CompiledSchema[]> {
  const protocol = await new Promise<{ namespace?: string; protocol?: string; types?: unknown[] }>((resolve, reject) => {
    assembleProtocol(file, (err, result) => (err ? reject(err) : resolve(result as never)));
  }).catch(async (e: unknown) => {
    throw await idlError(e as IdlError, file);
  });
  const namespace = protocol.namespace ?? (protocol.protocol?.includes(".") ? protocol.protocol.slice(0, protocol.protocol.lastIndexOf(".")) : undefined);
  const types = protocol.types ?? [];
  const text = await readFile(file, "utf8");
  const roots = rootRecords(types, namespace);
  if (roots.length === 0) throw new SchemaError("the protocol defines no record that could be an event (every record is referenced by another)", { file });
  return roots.map((name) => {
    let schema: Record<string, unknown>;
    try {
      schema = standaloneSchema(types, namespace, name);
    } catch (e) {
      throw new SchemaError((e as Error).message, locate(file, text, (e as Error).message), { cause: e });
    }
    parseSchema(schema, file, text); // names, defaults and references checked by avsc; errors located in the IDL
    return { name, schema };
  });
}

/** avsc's parse errors carry the token's position in the file that failed (an import, maybe). */
async function idlError(e: IdlError, root: string): Promise<SchemaError> {
  const file = e.path ?? root;
  if ((e as { code?: string }).code === "ENOENT") {
    const missing = file.slice(file.lastIndexOf("/") + 1);
    const text = await readFile(root, "utf8").catch(() => "");
    const line = text.split("\n").findIndex((l) => l.includes(missing)) + 1;
    return new SchemaError(`imports ${file}, which cannot be read`, line > 0 ? { file: root, line } : { file: root }, { cause: e });
  }
  if (!e.token) return new SchemaError(`invalid Avro IDL: ${e.message}`, e.lineNum ? { file, line: e.lineNum } : { file }, { cause: e });
  const text = await readFile(file, "utf8").catch(() => "");
  // The token's position is where avsc started skipping whitespace: point at the token itself.
  let pos = e.token.pos;
  while (pos < text.length && /\s/.test(text[pos]!)) pos++;
  const before = text.slice(0, pos);
  const expected = /: expected (?:value|ID) (.*)$/.exec(e.message)?.[1];
  const found = e.token.val === undefined ? "the end of the file" : JSON.stringify(e.token.val);
  const hint = e.token.val === "?" ? " (the `T?` shorthand is not supported here: write `union { null, T } name = null;`)" : "";
  const what = expected ? `expected ${expected === "name" ? "a name" : `"${expected}"`}, found ${found}${hint}` : e.message;
  return new SchemaError(`invalid Avro IDL: ${what}`, { file, line: before.split("\n").length, column: pos - before.lastIndexOf("\n") }, { cause: e });
}
