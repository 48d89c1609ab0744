/**
 * The state of `ferry dev`'s schema registry, in memory: subjects with their versions, one id
 * per distinct schema (shared across subjects, as Confluent's registry does), compatibility
 * levels. Registration checks compatibility with Ferry's own rules (avro/compatibility.ts), so
 * what dev refuses is what `ferry schemas check` refuses.
 */
import { checkCompatibility, type CompatibilityLevel, type CompatibilityProblem } from "../avro/compatibility.ts";
import { parseSchemaText, type AvroType } from "../avro/parse-schema.ts";

export interface StoredVersion {
  subject: string;
  version: number;
  id: number;
  schema: string;
}

/** A refusal with Confluent's status and error code, so clients react as they would to the real registry. */
export class RegistryRefusal extends Error {
  constructor(
    readonly status: number,
    readonly errorCode: number,
    message: string,
  ) {
    super(message);
  }
}

export const errorCodes = {
  subjectNotFound: 40401,
  versionNotFound: 40402,
  schemaNotFound: 40403,
  subjectLevelNotFound: 40408,
  incompatible: 409,
  invalidSchema: 42201,
  invalidVersion: 42202,
  invalidLevel: 42203,
} as const;

export interface RegistryStore {
  subjects(): string[];
  versions(subject: string): number[];
  version(subject: string, version: number | "latest"): StoredVersion;
  schemaById(id: number): { schema: string; subjects: Array<{ subject: string; version: number }> };
  lookup(subject: string, schema: string): StoredVersion;
  register(subject: string, schema: string): { id: number; version: number; created: boolean };
  /** Problems of `schema` against the subject's versions under its level (empty: compatible). */
  compatibilityProblems(subject: string, schema: string, against?: number | "latest"): CompatibilityProblem[];
  level(subject?: string): CompatibilityLevel | undefined;
  setLevel(level: CompatibilityLevel, subject?: string): void;
  deleteSubject(subject: string): number[];
}

export function createRegistryStore({ level: globalDefault = "BACKWARD" as CompatibilityLevel } = {}): RegistryStore {
  const subjects = new Map<string, Array<StoredVersion & { type: AvroType; canonical: string }>>();
  // Keyed by the compact JSON as written (docs and defaults included), as Confluent's registry
  // compares: two schemas that differ only in a default are different schemas with different ids.
  const ids = new Map<string, number>();
  const texts = new Map<number, string>();
  const levels = new Map<string, CompatibilityLevel>();
  let globalLevel = globalDefault;

  const parse = (schema: string) => {
    try {
      const type = parseSchemaText(schema, "the request");
      return { type, canonical: JSON.stringify(JSON.parse(schema)) };
    } catch (e) {
      throw new RegistryRefusal(422, errorCodes.invalidSchema, `Invalid schema: ${(e as Error).message}`);
    }
  };
  const versionsOf = (subject: string) => {
    const list = subjects.get(subject);
    if (!list || list.length === 0) throw new RegistryRefusal(404, errorCodes.subjectNotFound, `Subject '${subject}' not found.`);
    return list;
  };
  const pick = (subject: string, version: number | "latest") => {
    const list = versionsOf(subject);
    const found = version === "latest" ? list.at(-1) : list.find((v) => v.version === version);
    if (!found) throw new RegistryRefusal(404, errorCodes.versionNotFound, `Version ${version} not found.`);
    return found;
  };
  const strip = ({ subject, version, id, schema }: StoredVersion): StoredVersion => ({ subject, version, id, schema });

  const store: RegistryStore = {
    subjects: () => [...subjects.keys()].filter((s) => subjects.get(s)!.length > 0).sort(),
    versions: (subject) => versionsOf(subject).map((v) => v.version),
    version: (subject, version) => strip(pick(subject, version)),
    schemaById(id) {
      const schema = texts.get(id);
      if (schema === undefined) throw new RegistryRefusal(404, errorCodes.schemaNotFound, `Schema ${id} not found`);
      const uses = [...subjects.values()]
        .flat()
        .filter((v) => v.id === id)
        .map((v) => ({ subject: v.subject, version: v.version }));
      return { schema, subjects: uses };
    },
    lookup(subject, schema) {
      const { canonical } = parse(schema);
      const found = versionsOf(subject).find((v) => v.canonical === canonical);
      if (!found) throw new RegistryRefusal(404, errorCodes.schemaNotFound, "Schema not found");
      return strip(found);
    },
    register(subject, schema) {
      const { type, canonical } = parse(schema);
      const list = subjects.get(subject) ?? [];
      const existing = list.find((v) => v.canonical === canonical);
      if (existing) return { id: existing.id, version: existing.version, created: false };
      const problems = store.compatibilityProblems(subject, schema);
      if (problems.length > 0) {
        throw new RegistryRefusal(
          409,
          errorCodes.incompatible,
          `Schema being registered is incompatible with an earlier schema for subject "${subject}": ${problems.map((p) => p.message).join("; ")}`,
        );
      }
      let id = ids.get(canonical);
      if (id === undefined) {
        id = ids.size + 1;
        ids.set(canonical, id);
        texts.set(id, schema);
      }
      const version = (list.at(-1)?.version ?? 0) + 1;
      list.push({ subject, version, id, schema, type, canonical });
      subjects.set(subject, list);
      return { id, version, created: true };
    },
    compatibilityProblems(subject, schema, against) {
      const { type } = parse(schema);
      const list = subjects.get(subject) ?? [];
      const previous = against === undefined || against === "latest" ? list : [pick(subject, against)];
      const level =
        against === undefined || against === "latest"
          ? (levels.get(subject) ?? globalLevel)
          : ((levels.get(subject) ?? globalLevel).replace("_TRANSITIVE", "") as CompatibilityLevel);
      return checkCompatibility(
        type,
        previous.map((v) => ({ version: v.version, type: v.type })),
        level,
      );
    },
    level: (subject) => (subject === undefined ? globalLevel : levels.get(subject)),
    setLevel(level, subject) {
      if (subject === undefined) globalLevel = level;
      else levels.set(subject, level);
    },
    deleteSubject(subject) {
      const removed = versionsOf(subject).map((v) => v.version);
      subjects.delete(subject);
      levels.delete(subject);
      return removed;
    },
  };
  return store;
}
