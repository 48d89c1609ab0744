/**
 * Avro schema → TypeScript declarations of the values a handler receives. Walks avsc's parsed
 * type, so the shapes are exactly what the decoder produces: unions avsc unwraps are plain
 * `A | B | null`, unions it wraps are `{ "ns.Name": value }`, long is number (a long outside
 * −2^52 … 9,007,199,254,740,990 fails to decode, see avro/strict-guard.ts), bytes and fixed are
 * Buffer, logical types are their underlying type.
 */
import { SchemaError } from "../errors.ts";
import type { AvroType } from "../avro/parse-schema.ts";

type Any = AvroType & {
  fields?: Array<{ name: string; type: AvroType; doc?: string; defaultValue(): unknown }>;
  types?: AvroType[];
  symbols?: string[];
  itemsType?: AvroType;
  valuesType?: AvroType;
};

const scalar: Record<string, string> = {
  null: "null",
  boolean: "boolean",
  int: "number",
  long: "number",
  float: "number",
  double: "number",
  string: "string",
  bytes: "Buffer",
};

/** The declarations for `type` and every named type it uses, in dependency order (used types first). */
export function typescriptDeclarations(type: AvroType, source: string): string {
  const declared = new Map<string, string>(); // short name → full name
  const out: string[] = [];

  const nameFor = (t: AvroType) => {
    const full = t.name!;
    const short = full.slice(full.lastIndexOf(".") + 1);
    const taken = declared.get(short);
    if (taken !== undefined && taken !== full) {
      throw new SchemaError(`two types are named ${short} (${taken} and ${full}); TypeScript declarations need distinct names`, { file: source });
    }
    return short;
  };

  const ref = (type: AvroType): string => {
    const t = type as Any;
    if (scalar[t.typeName]) return scalar[t.typeName]!;
    switch (t.typeName) {
      case "fixed":
        return "Buffer";
      case "array":
        return `Array<${ref(t.itemsType!)}>`;
      case "map":
        return `Record<string, ${ref(t.valuesType!)}>`;
      case "union:unwrapped":
        return t.types!.map(ref).join(" | ");
      case "union:wrapped":
        return t.types!.map((b) => (b.typeName === "null" ? "null" : `{ ${JSON.stringify(b.branchName)}: ${ref(b)} }`)).join(" | ");
      case "enum":
      case "record":
      case "error":
        return declare(t);
    }
    throw new SchemaError(`unsupported Avro type ${t.typeName}`, { file: source });
  };

  const declare = (t: Any): string => {
    const name = nameFor(t);
    if (declared.has(name)) return name;
    declared.set(name, t.name!);
    if (t.typeName === "enum") {
      out.push(`${doc(t.doc, "")}export type ${name} = ${t.symbols!.map((s) => JSON.stringify(s)).join(" | ")};`);
      return name;
    }
    const body = t.fields!.map((f) => `${doc(f.doc, "  ")}  ${f.name}: ${ref(f.type)};`);
    const about = t.doc ? `${t.doc}\n\nAvro record \`${t.name}\`.` : `Avro record \`${t.name}\`.`;
    out.push(`${doc(about, "")}export interface ${name} {\n${body.join("\n")}\n}`);
    return name;
  };

  ref(type);
  return out.join("\n\n");
}

function doc(text: string | undefined, indent: string): string {
  if (!text) return "";
  const lines = text.replace(/\*\//g, "*\\/").split("\n");
  if (lines.length === 1) return `${indent}/** ${lines[0]} */\n`;
  return `${indent}/**\n${lines.map((l) => `${indent} *${l ? ` ${l}` : ""}`).join("\n")}\n${indent} */\n`;
}
