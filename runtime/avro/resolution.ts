/**
 * Avro schema resolution as a pure check: can data written with `writer` be read with `reader`?
 * The rules of the Avro specification ("Schema Resolution"), as Avro's Java SchemaCompatibility and
 * avsc's createResolver(…, { ignoreNamespaces: true }) apply them: named types match by unqualified
 * name or reader alias, a field missing from the writer needs a reader default, an enum symbol
 * unknown to the reader needs a reader enum default, every writer union branch must be readable,
 * and only the spec's promotions (int→long→float→double, string↔bytes) are allowed.
 */
import type { AvroType } from "./parse-schema.ts";

export type ResolutionRule = "type-mismatch" | "name-mismatch" | "missing-default" | "enum-symbol-unknown" | "fixed-size-mismatch" | "union-branch-unreadable";

export interface ResolutionIssue {
  rule: ResolutionRule;
  /** Where, from the top-level type: `OrderPlaced.items[].sku`, `OrderPlaced.note`. */
  path: string;
  /** What the reader and the writer have at `path` (type descriptions, a field or symbol name). */
  reader: string;
  writer: string;
}

const promotions: Record<string, readonly string[]> = {
  long: ["int"],
  float: ["int", "long"],
  double: ["int", "long", "float"],
  string: ["bytes"],
  bytes: ["string"],
};

interface Field {
  name: string;
  aliases: string[];
  type: AvroType;
  defaultValue(): unknown;
}
type Any = AvroType & {
  fields?: Field[];
  types?: AvroType[];
  symbols?: string[];
  size?: number;
  itemsType?: AvroType;
  valuesType?: AvroType;
  default?: unknown;
};

const unqualify = (name: string) => name.slice(name.lastIndexOf(".") + 1);
const isUnion = (t: AvroType) => t.typeName.startsWith("union");
const isNamed = (t: AvroType) => ["record", "error", "enum", "fixed"].includes(t.typeName);
/** Branches of a union "correspond" when they are the same kind of thing: same named type, or same primitive/collection. */
const kindOf = (t: AvroType) => (isNamed(t) ? `${t.typeName}:${unqualify(t.name!)}` : t.typeName);

/** A short description of a type for messages: `long`, `shop.Order`, `array<string>`, `union[null, string]`. */
export function describe(type: AvroType): string {
  const t = type as Any;
  if (isNamed(t)) return t.name!;
  if (isUnion(t)) return `union[${t.types!.map(describe).join(", ")}]`;
  if (t.typeName === "array") return `array<${describe(t.itemsType!)}>`;
  if (t.typeName === "map") return `map<${describe(t.valuesType!)}>`;
  return t.typeName;
}

/** Every reason `reader` cannot read data written with `writer`; empty when it can. */
export function resolutionIssues(reader: AvroType, writer: AvroType): ResolutionIssue[] {
  const out: ResolutionIssue[] = [];
  check(reader as Any, writer as Any, isNamed(reader) ? unqualify(reader.name!) : describe(reader), new Set(), out);
  return out;
}

function check(reader: Any, writer: Any, path: string, seen: Set<string>, out: ResolutionIssue[]): void {
  if (isUnion(writer)) {
    for (const branch of writer.types!) {
      const issues = collect(reader, branch as Any, path, seen);
      if (issues.length === 0) continue;
      const same = isUnion(reader) ? reader.types!.some((r) => kindOf(r) === kindOf(branch)) : kindOf(reader) === kindOf(branch);
      // A branch the reader also has but reads badly: report why, deep. A branch it lacks: report the branch.
      if (same) out.push(...issues);
      else out.push({ rule: "union-branch-unreadable", path, reader: describe(reader), writer: describe(branch) });
    }
    return;
  }
  if (isUnion(reader)) {
    const attempts = reader.types!.map((r) => ({ r, issues: collect(r as Any, writer, path, seen) }));
    if (attempts.some((a) => a.issues.length === 0)) return;
    const same = attempts.find((a) => kindOf(a.r) === kindOf(writer));
    if (same) out.push(...same.issues);
    else out.push({ rule: "type-mismatch", path, reader: describe(reader), writer: describe(writer) });
    return;
  }
  if (reader.typeName !== writer.typeName && !(promotions[reader.typeName] ?? []).includes(writer.typeName)) {
    const bothRecords = ["record", "error"].includes(reader.typeName) && ["record", "error"].includes(writer.typeName);
    if (!bothRecords) {
      out.push({ rule: "type-mismatch", path, reader: describe(reader), writer: describe(writer) });
      return;
    }
  }
  if (isNamed(reader) && !namesMatch(reader, writer)) {
    out.push({ rule: "name-mismatch", path, reader: reader.name!, writer: writer.name! });
    return;
  }
  switch (reader.typeName) {
    case "record":
    case "error":
      checkRecord(reader, writer, path, seen, out);
      return;
    case "enum": {
      if (reader.default !== undefined) return;
      for (const symbol of writer.symbols!) {
        if (!reader.symbols!.includes(symbol)) out.push({ rule: "enum-symbol-unknown", path, reader: describe(reader), writer: symbol });
      }
      return;
    }
    case "fixed":
      if (reader.size !== writer.size) out.push({ rule: "fixed-size-mismatch", path, reader: String(reader.size), writer: String(writer.size) });
      return;
    case "array":
      check(reader.itemsType as Any, writer.itemsType as Any, `${path}[]`, seen, out);
      return;
    case "map":
      check(reader.valuesType as Any, writer.valuesType as Any, `${path}{}`, seen, out);
      return;
  }
}

function checkRecord(reader: Any, writer: Any, path: string, seen: Set<string>, out: ResolutionIssue[]): void {
  // Recursive schemas: a pair of records already being checked further up is assumed readable.
  const key = `${reader.name}|${writer.name}`;
  if (seen.has(key)) return;
  seen.add(key);
  const writerFields = new Map(writer.fields!.map((f) => [f.name, f]));
  for (const field of reader.fields!) {
    const match = [field.name, ...field.aliases].map((n) => writerFields.get(n)).find(Boolean);
    const fieldPath = `${path}.${field.name}`;
    if (match) check(field.type as Any, match.type as Any, fieldPath, seen, out);
    else if (field.defaultValue() === undefined) out.push({ rule: "missing-default", path: fieldPath, reader: describe(field.type), writer: "(absent)" });
  }
  seen.delete(key);
}

function namesMatch(reader: AvroType, writer: AvroType): boolean {
  const wanted = unqualify(writer.name!);
  return [reader.name!, ...(reader.aliases ?? [])].some((n) => unqualify(n) === wanted);
}

function collect(reader: Any, writer: Any, path: string, seen: Set<string>): ResolutionIssue[] {
  const issues: ResolutionIssue[] = [];
  check(reader, writer, path, seen, issues);
  return issues;
}
