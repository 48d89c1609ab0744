/**
 * `ferry schemas check`: each schema file that changed against its earlier versions, under the
 * compatibility level that applies. Online: the subject's registered versions and the registry's
 * level for it. Offline: the versions kept in `history/`, under a level given on the command line.
 */
import { checkCompatibility, type CompatibilityLevel, type CompatibilityProblem, type VersionedSchema } from "../avro/compatibility.ts";
import { canonicalText, parseSchemaText } from "../avro/parse-schema.ts";
import type { RegistryClient } from "../registry/client.ts";
import { loadHistory, type Binding, type SchemaFile } from "./catalog.ts";

export interface CheckResult {
  schema: string;
  subject?: string;
  level: CompatibilityLevel;
  /** new: nothing to compare with · unchanged: equal to a version that exists · compatible · incompatible */
  status: "new" | "unchanged" | "compatible" | "incompatible";
  /** The versions compared against (registry version numbers or history file names). */
  against: Array<number | string>;
  problems: Array<Pick<CompatibilityProblem, "version" | "direction" | "rule" | "path" | "message">>;
}

/** Against the registry: what `ferry schemas register` would face. */
export async function checkAgainstRegistry(binding: Binding, client: RegistryClient): Promise<CheckResult> {
  const base = { schema: binding.schema.name, subject: binding.subject };
  const [versions, level] = await Promise.all([client.versions(binding.subject), client.compatibility(binding.subject)]);
  if (versions.length === 0) return { ...base, level, status: "new", against: [], problems: [] };
  const registered = await client.lookup(binding.subject, binding.schema.text);
  if (registered) return { ...base, level, status: "unchanged", against: [registered.version], problems: [] };
  const wanted = level.endsWith("_TRANSITIVE") ? versions : versions.slice(-1);
  const previous: VersionedSchema[] = await Promise.all(
    wanted.map(async (version) => {
      const found = await client.version(binding.subject, version);
      return { version, type: parseSchemaText(found.schema, `${binding.subject} version ${version}`) };
    }),
  );
  return verdict(base, binding.schema, previous, level);
}

/** Against `history/<name>/<n>.avsc` in the repository: no registry needed. */
export async function checkAgainstHistory(dir: string, schema: SchemaFile, level: CompatibilityLevel, subject?: string): Promise<CheckResult> {
  const base = { schema: schema.name, ...(subject ? { subject } : {}) };
  const previous = await loadHistory(dir, schema);
  if (previous.length === 0) return { ...base, level, status: "new", against: [], problems: [] };
  const latest = previous[previous.length - 1]!;
  if (canonicalText(latest.type) === canonicalText(schema.type)) return { ...base, level, status: "unchanged", against: [latest.version], problems: [] };
  return verdict(base, schema, previous, level);
}

function verdict(base: { schema: string; subject?: string }, schema: SchemaFile, previous: VersionedSchema[], level: CompatibilityLevel): CheckResult {
  const against = (level.endsWith("_TRANSITIVE") ? previous : previous.slice(-1)).map((p) => p.version);
  const problems = checkCompatibility(schema.type, previous, level).map(({ version, direction, rule, path, message }) => ({
    version,
    direction,
    rule,
    path,
    message,
  }));
  return { ...base, level, status: problems.length > 0 ? "incompatible" : "compatible", against: level === "NONE" ? [] : against, problems };
}
