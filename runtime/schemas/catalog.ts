/**
 * The schemas directory: `*.avsc` files (one schema each, as written), the optional `topics.json`
 * that binds topics to them, and `history/<name>/<n>.avsc`, the versions released before, for
 * checking without a registry. Subjects follow from topic, record name and strategy.
 */
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import * as v from "valibot";
import type { VersionedSchema } from "../avro/compatibility.ts";
import { parseSchemaText, type AvroType } from "../avro/parse-schema.ts";
import { SchemaError } from "../errors.ts";
import { subjectName, type SubjectStrategy } from "../registry/subject-strategy.ts";

export interface SchemaFile {
  /** File name within the schemas directory, e.g. `order-placed.avsc`. */
  name: string;
  path: string;
  /** The schema as written, compact: what is registered. */
  text: string;
  type: AvroType;
}

export interface Binding {
  subject: string;
  topic?: string;
  schema: SchemaFile;
}

export const topicsFile = "topics.json";
const topicsSchema = v.record(
  v.pipe(v.string(), v.regex(/^[A-Za-z0-9._-]{1,249}$/, "topic names are 1-249 letters, digits, '.', '_' or '-'")),
  v.union([v.string(), v.array(v.string())], "each topic maps to a schema file name or a list of them"),
);

export async function loadSchemaFiles(dir: string): Promise<SchemaFile[]> {
  const names = (
    await readdir(dir).catch(() => {
      throw new SchemaError("the schemas directory does not exist; pass --dir <path> or set FERRY_SCHEMAS_DIR", { file: dir });
    })
  )
    .filter((n) => n.endsWith(".avsc"))
    .sort();
  return Promise.all(names.map((name) => loadSchemaFile(path.join(dir, name))));
}

export async function loadSchemaFile(file: string): Promise<SchemaFile> {
  const raw = await readFile(file, "utf8").catch((e: Error) => {
    throw new SchemaError(`cannot read the schema file: ${e.message}`, { file });
  });
  const type = parseSchemaText(raw, file);
  return { name: path.basename(file), path: file, text: JSON.stringify(JSON.parse(raw)), type };
}

/** `topics.json`: topic → schema file(s). Absent: no topic is bound (fine with RecordName). */
export async function loadTopics(dir: string): Promise<Record<string, string[]>> {
  const file = path.join(dir, topicsFile);
  const raw = await readFile(file, "utf8").catch(() => null);
  if (raw === null) return {};
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch (e) {
    throw new SchemaError(`not valid JSON: ${(e as Error).message}`, { file });
  }
  const parsed = v.safeParse(topicsSchema, json);
  if (!parsed.success)
    throw new SchemaError(`expected { "<topic>": "<file>.avsc" | ["<file>.avsc", ...] }: ${parsed.issues.map((i) => i.message).join("; ")}`, { file });
  return Object.fromEntries(Object.entries(parsed.output).map(([topic, files]) => [topic, typeof files === "string" ? [files] : files]));
}

/** Which subject each schema file is registered under. Pure. */
export function bindSubjects(files: SchemaFile[], topics: Record<string, string[]>, strategy: SubjectStrategy): { bindings: Binding[]; unbound: SchemaFile[] } {
  const byName = new Map(files.map((f) => [f.name, f]));
  const bindings: Binding[] = [];
  for (const [topic, names] of Object.entries(topics)) {
    if (strategy === "TopicName" && names.length > 1) {
      throw new SchemaError(
        `topic ${topic} lists ${names.length} schemas, but the TopicName strategy allows one per topic; use TopicRecordName for several event types on one topic`,
        { file: topicsFile },
      );
    }
    for (const name of names) {
      const schema = byName.get(name);
      if (!schema) throw new SchemaError(`topic ${topic} names ${name}, which is not a .avsc file of the schemas directory`, { file: topicsFile });
      if (strategy !== "RecordName") bindings.push({ subject: subjectName(strategy, topic, schema.type.name), topic, schema });
    }
  }
  if (strategy === "RecordName") {
    for (const schema of files) {
      if (!schema.type.name) throw new SchemaError("the RecordName strategy needs a named schema (record, enum or fixed)", { file: schema.path });
      bindings.push({ subject: subjectName(strategy, "", schema.type.name), schema });
    }
  }
  const bound = new Set(bindings.map((b) => b.schema.name));
  return { bindings, unbound: files.filter((f) => !bound.has(f.name)) };
}

/** Released versions kept in the repository: `history/<stem>/<n>.avsc`, oldest first. */
export async function loadHistory(dir: string, schema: SchemaFile): Promise<VersionedSchema[]> {
  return (await loadReleasedFiles(dir, schema.name)).map((f) => ({ version: path.relative(dir, f.path), type: f.type }));
}

/** The files of `history/<stem>/`, oldest first. */
export async function loadReleasedFiles(dir: string, schemaName: string): Promise<SchemaFile[]> {
  const folder = path.join(dir, "history", schemaName.replace(/\.avsc$/, ""));
  const names = (await readdir(folder).catch(() => [] as string[])).filter((n) => /^\d+\.avsc$/.test(n));
  names.sort((a, b) => parseInt(a, 10) - parseInt(b, 10));
  return Promise.all(names.map((n) => loadSchemaFile(path.join(folder, n))));
}
