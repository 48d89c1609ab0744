/**
 * `ferry new handler <name>`: writes a handler the way the README recommends — an Avro event in
 * IDL with its generated schema and types, bound to its topic in topics.json, a handler with a
 * business key, its migration, its cases on ferry/testing and one test of the wiring on `ferry dev` —
 * and refuses to overwrite anything.
 */
import { existsSync } from "node:fs";
import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { UsageError } from "../cli/usage-error.ts";
import { buildSchemas, codegenSchemas, kebab } from "../schemas/build.ts";
import { topicsFile } from "../schemas/catalog.ts";
import { eventIdl, handlerDevTest, handlerModule, handlerTest, migrationSql, type HandlerNames } from "./templates.ts";

export interface NewHandlerOptions {
  name: string;
  handlersDir: string;
  schemasDir: string;
  topic?: string;
  event?: string;
}

export interface Scaffolded {
  created: string[];
  updated: string[];
  names: HandlerNames;
}

const pascal = (kebabName: string) =>
  kebabName
    .split(/[-_]/)
    .filter(Boolean)
    .map((w) => w[0]!.toUpperCase() + w.slice(1))
    .join("");

/** The names a scaffold uses, or a UsageError that says which one is wrong and what is allowed. Pure. */
export function handlerNames({ name, handlersDir, schemasDir, topic = name, event = pascal(name) }: NewHandlerOptions): HandlerNames {
  const problems: string[] = [];
  if (!/^[a-z][a-z0-9]*(-[a-z0-9]+)*$/.test(name))
    problems.push(`handler name '${name}' must be kebab-case (lower-case letters, digits, single '-'), e.g. invoice-totals`);
  if (!/^[A-Za-z0-9._-]{1,200}$/.test(topic)) problems.push(`topic '${topic}' may contain letters, digits, '.', '_' and '-'`);
  if (!/^[A-Z][A-Za-z0-9]*$/.test(event)) problems.push(`event '${event}' must be PascalCase (an Avro record name), e.g. InvoiceIssued`);
  if (problems.length > 0) throw new UsageError(problems.join("; "), "new");
  const relative = path.relative(path.resolve(handlersDir), path.resolve(schemasDir)).split(path.sep).join("/");
  return {
    handler: name,
    topic,
    event,
    eventFile: kebab(event),
    table: name.replace(/-/g, "_"),
    namespace: `app.${topic.replace(/[^A-Za-z0-9_.]/g, "_").replace(/^[^A-Za-z_]/, "_$&")}`,
    schemasFromHandlers: relative.startsWith(".") ? relative : `./${relative}`,
  };
}

export async function scaffoldHandler(options: NewHandlerOptions): Promise<Scaffolded> {
  const n = handlerNames(options);
  const { handlersDir, schemasDir } = options;
  const files = {
    idl: path.join(schemasDir, `${n.eventFile}.avdl`),
    handler: path.join(handlersDir, `${n.handler}.ts`),
    test: path.join(handlersDir, `${n.handler}.test.ts`),
    devTest: path.join(handlersDir, `${n.handler}.dev.test.ts`),
    migration: path.join(handlersDir, "migrations", `${await nextMigrationNumber(handlersDir)}_${n.table}.sql`),
  };
  const taken = [...Object.values(files), path.join(schemasDir, `${n.eventFile}.avsc`)].filter((f) => existsSync(f));
  if (taken.length > 0) throw new UsageError(`${taken.join(", ")} already exist(s): pick another name (or --event), or delete them first`, "new");
  const topics = await readTopics(schemasDir);
  if (topics[n.topic] !== undefined) {
    throw new UsageError(
      `topic ${n.topic} is already bound to ${JSON.stringify(topics[n.topic])} in ${path.join(schemasDir, topicsFile)}: pass --topic <another>, or write the handler for that schema by hand`,
      "new",
    );
  }

  await mkdir(path.dirname(files.migration), { recursive: true });
  await mkdir(schemasDir, { recursive: true });
  await writeFile(files.idl, eventIdl(n));
  await writeFile(files.handler, handlerModule(n));
  await writeFile(files.test, handlerTest(n));
  await writeFile(files.devTest, handlerDevTest(n));
  await writeFile(files.migration, migrationSql(n));
  await writeFile(path.join(schemasDir, topicsFile), `${JSON.stringify({ ...topics, [n.topic]: `${n.eventFile}.avsc` }, null, 2)}\n`);
  // The same as `ferry schemas build && ferry schemas codegen`: the .avsc and .ts beside the IDL.
  const generated = [...(await buildSchemas(schemasDir)), ...(await codegenSchemas(schemasDir))]
    .filter((g) => g.status === "written")
    .map((g) => path.join(schemasDir, g.output));
  return {
    created: [files.idl, ...generated, files.handler, files.migration, files.test, files.devTest],
    updated: [path.join(schemasDir, topicsFile)],
    names: n,
  };
}

async function readTopics(schemasDir: string): Promise<Record<string, string | string[]>> {
  const text = await readFile(path.join(schemasDir, topicsFile), "utf8").catch(() => null);
  if (text === null) return {};
  try {
    return JSON.parse(text) as Record<string, string | string[]>;
  } catch (e) {
    throw new UsageError(`${path.join(schemasDir, topicsFile)} is not valid JSON (${(e as Error).message}): fix it first`, "new");
  }
}

/** One more than the highest `NNNN_` prefix in the handlers' migrations, four digits. */
async function nextMigrationNumber(handlersDir: string): Promise<string> {
  const names = await readdir(path.join(handlersDir, "migrations")).catch(() => [] as string[]);
  const highest = Math.max(
    0,
    ...names
      .map((n) => /^(\d+)_/.exec(n)?.[1])
      .filter(Boolean)
      .map(Number),
  );
  return String(highest + 1).padStart(4, "0");
}
