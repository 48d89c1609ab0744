/**
 * The schema registry's REST API, the part Ferry uses: schemas by id, subjects and their versions,
 * lookup, registration and compatibility configuration. Works against Confluent Schema Registry and
 * compatible ones (Apicurio's /apis/ccompat/v7 is what the tests run against).
 */
import type { CompatibilityLevel } from "../avro/compatibility.ts";
import { RegistryRequestError } from "../errors.ts";
import type { RegistryRequest } from "./http.ts";

export interface RegisteredSchema {
  subject: string;
  version: number;
  id: number;
  /** Omitted (or "AVRO") for Avro in Confluent's API. */
  schemaType: string;
  /** The schema's JSON text. */
  schema: string;
}

export interface RegistryClient {
  /** The schema with this id, or null when the registry does not know it. */
  schemaById(id: number): Promise<{ schemaType: string; schema: string } | null>;
  /** Every subject the registry holds. */
  subjects(): Promise<string[]>;
  /** Version numbers of a subject, oldest first; empty when the subject does not exist. */
  versions(subject: string): Promise<number[]>;
  version(subject: string, version: number | "latest"): Promise<RegisteredSchema>;
  /** The version of `subject` whose schema equals `schema`, or null when it is not registered there. */
  lookup(subject: string, schema: string): Promise<RegisteredSchema | null>;
  /** Registers (idempotent: an equal schema returns its existing id). Refused (409) when incompatible. */
  register(subject: string, schema: string): Promise<{ id: number }>;
  /** The subject's compatibility level, else the registry's global one. */
  compatibility(subject: string): Promise<CompatibilityLevel>;
  setCompatibility(subject: string, level: CompatibilityLevel): Promise<void>;
  /** The registry's own verdict on `schema` against the subject's latest version under its level. */
  testCompatibility(subject: string, schema: string): Promise<boolean>;
  deleteSubject(subject: string): Promise<void>;
}

const notFound = (e: unknown, ...codes: number[]) =>
  e instanceof RegistryRequestError && e.status === 404 && (codes.length === 0 || codes.includes(e.errorCode ?? -1));
const subjectNotFound = 40401;
const schemaNotFound = 40403;
const enc = encodeURIComponent;

export function createRegistryClient(request: RegistryRequest): RegistryClient {
  const withType = <T extends { schemaType?: string }>(r: T) => ({ ...r, schemaType: r.schemaType ?? "AVRO" });
  return {
    async schemaById(id) {
      try {
        return withType(await request<{ schemaType?: string; schema: string }>("GET", `/schemas/ids/${id}`));
      } catch (e) {
        if (notFound(e)) return null;
        throw e;
      }
    },
    subjects: () => request<string[]>("GET", "/subjects"),
    async versions(subject) {
      try {
        return (await request<number[]>("GET", `/subjects/${enc(subject)}/versions`)).sort((a, b) => a - b);
      } catch (e) {
        if (notFound(e, subjectNotFound)) return [];
        throw e;
      }
    },
    async version(subject, version) {
      return withType(await request<RegisteredSchema>("GET", `/subjects/${enc(subject)}/versions/${version}`));
    },
    async lookup(subject, schema) {
      try {
        return withType(await request<RegisteredSchema>("POST", `/subjects/${enc(subject)}`, { schema }));
      } catch (e) {
        if (notFound(e, subjectNotFound, schemaNotFound)) return null;
        throw e;
      }
    },
    register: (subject, schema) => request<{ id: number }>("POST", `/subjects/${enc(subject)}/versions`, { schema }),
    async compatibility(subject) {
      try {
        const own = await request<{ compatibilityLevel: CompatibilityLevel }>("GET", `/config/${enc(subject)}?defaultToGlobal=true`);
        return own.compatibilityLevel;
      } catch (e) {
        if (!notFound(e)) throw e;
      }
      return (await request<{ compatibilityLevel: CompatibilityLevel }>("GET", "/config")).compatibilityLevel;
    },
    async setCompatibility(subject, level) {
      await request("PUT", `/config/${enc(subject)}`, { compatibility: level });
    },
    async testCompatibility(subject, schema) {
      const verdict = await request<{ is_compatible: boolean }>("POST", `/compatibility/subjects/${enc(subject)}/versions/latest`, { schema });
      return verdict.is_compatible;
    },
    async deleteSubject(subject) {
      await request("DELETE", `/subjects/${enc(subject)}`);
      await request("DELETE", `/subjects/${enc(subject)}?permanent=true`);
    },
  };
}
