/**
 * Writer schemas by id, for the decoder. Each id is fetched once per process; concurrent misses
 * for the same id share one request. Decoding is synchronous, so callers `warm` the ids of a batch
 * first (async, may throw RegistryUnavailableError: infrastructure) and the decoder `peek`s.
 */
import type { WriterSchema, WriterSchemaSource } from "../avro/decoder.ts";
import { parseSchemaText } from "../avro/parse-schema.ts";
import type { RegistryClient } from "./client.ts";

export interface SchemaCache extends WriterSchemaSource {
  /** Fetches every id not cached yet. Resolves when all are known (found or missing). */
  warm(ids: Iterable<number>): Promise<void>;
  get(id: number): Promise<WriterSchema>;
  /** How many registry requests were made for schema ids (for tests and metrics). */
  readonly fetches: number;
}

export function createSchemaCache(
  client: Pick<RegistryClient, "schemaById">,
  {
    missingTtlMs = 30_000,
    confirmMissingMs = 500,
    now = Date.now,
    sleep = Bun.sleep,
  }: { missingTtlMs?: number; confirmMissingMs?: number; now?: () => number; sleep?: (ms: number) => Promise<unknown> } = {},
): SchemaCache {
  const known = new Map<number, { schema: WriterSchema; at: number }>();
  const inflight = new Map<number, Promise<void>>();
  let fetches = 0;

  const lookup = async (id: number) => {
    fetches++;
    return client.schemaById(id);
  };

  const fetchOne = async (id: number) => {
    let found = await lookup(id);
    // A registry follower may lag behind the leader that just assigned the id: ask once more.
    if (found === null && confirmMissingMs > 0) {
      await sleep(confirmMissingMs);
      found = await lookup(id);
    }
    known.set(id, { schema: toWriterSchema(id, found), at: now() });
  };

  const stale = (id: number) => {
    const entry = known.get(id);
    if (!entry) return true;
    // Found schemas never change (ids are immutable); a miss is re-checked after a while.
    return entry.schema.kind === "missing" && now() - entry.at > missingTtlMs;
  };

  const warmOne = (id: number): Promise<void> => {
    let pending = inflight.get(id);
    if (!pending) {
      pending = fetchOne(id).finally(() => inflight.delete(id));
      inflight.set(id, pending);
    }
    return pending;
  };

  const cache: SchemaCache = {
    async warm(ids) {
      const wanted = [...new Set(ids)].filter(stale);
      if (wanted.length > 0) await Promise.all(wanted.map(warmOne));
    },
    peek: (id) => known.get(id)?.schema,
    async get(id) {
      await cache.warm([id]);
      return known.get(id)!.schema;
    },
    get fetches() {
      return fetches;
    },
  };
  return cache;
}

function toWriterSchema(id: number, found: { schemaType: string; schema: string } | null): WriterSchema {
  if (found === null) return { kind: "missing", detail: "the registry answered 404" };
  if (found.schemaType.toUpperCase() !== "AVRO") return { kind: "unsupported", schemaType: found.schemaType };
  try {
    return { kind: "avro", type: parseSchemaText(found.schema, `registry schema id ${id}`) };
  } catch (e) {
    return { kind: "invalid", detail: (e as Error).message };
  }
}
