import { describe, expect, test } from "bun:test";
import { RegistryUnavailableError } from "../errors.ts";
import { createSchemaCache } from "./schema-cache.ts";

const avro = (name: string) => ({ schemaType: "AVRO", schema: JSON.stringify({ type: "record", name, fields: [] }) });

function fakeClient(schemas: Record<number, { schemaType: string; schema: string }>, delayMs = 5) {
  const asked: number[] = [];
  return {
    asked,
    schemaById: async (id: number) => {
      asked.push(id);
      await Bun.sleep(delayMs);
      return schemas[id] ?? null;
    },
  };
}

describe("createSchemaCache", () => {
  test("fetches each id once, and concurrent misses share one request", async () => {
    const client = fakeClient({ 1: avro("A"), 2: avro("B") });
    const cache = createSchemaCache(client);
    await Promise.all([cache.warm([1, 2, 1]), cache.warm([2]), cache.warm([1])]);
    await cache.warm([1, 2]);
    expect(client.asked.sort()).toEqual([1, 2]);
    expect(cache.peek(1)).toMatchObject({ kind: "avro" });
    expect(cache.peek(3)).toBeUndefined();
  });

  test("an unknown id is asked twice (a lagging follower), then remembered as missing for a while", async () => {
    let t = 0;
    const client = fakeClient({});
    const cache = createSchemaCache(client, { confirmMissingMs: 1, missingTtlMs: 1_000, now: () => t });
    await cache.warm([9]);
    await cache.warm([9]);
    expect(cache.peek(9)).toMatchObject({ kind: "missing" });
    expect(client.asked).toEqual([9, 9]);
    t = 2_000;
    await cache.warm([9]);
    expect(client.asked.length).toBe(4);
  });

  test("a non-Avro or unparseable schema is remembered as such", async () => {
    const cache = createSchemaCache(fakeClient({ 1: { schemaType: "PROTOBUF", schema: "syntax" }, 2: { schemaType: "AVRO", schema: '{"type":"nope"}' } }));
    await cache.warm([1, 2]);
    expect(cache.peek(1)).toEqual({ kind: "unsupported", schemaType: "PROTOBUF" });
    expect(cache.peek(2)).toMatchObject({ kind: "invalid" });
  });

  test("an outage propagates and nothing is cached, so the next warm asks again", async () => {
    let down = true;
    const client = {
      schemaById: async () => {
        if (down) throw new RegistryUnavailableError("down");
        return avro("A");
      },
    };
    const cache = createSchemaCache(client);
    await expect(cache.warm([1])).rejects.toBeInstanceOf(RegistryUnavailableError);
    await Bun.sleep(1);
    down = false;
    await cache.warm([1]);
    expect(cache.peek(1)).toMatchObject({ kind: "avro" });
  });
});
