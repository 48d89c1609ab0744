/** The registry client and the schema cache against the real registry (Apicurio's Confluent API). */
import { afterAll, describe, expect, test } from "bun:test";
import { canonicalText, parseSchemaText } from "../../runtime/avro/parse-schema.ts";
import { RegistryRequestError, RegistryUnavailableError } from "../../runtime/errors.ts";
import { createRegistryClient } from "../../runtime/registry/client.ts";
import { createRegistryHttp } from "../../runtime/registry/http.ts";
import { createSchemaCache } from "../../runtime/registry/schema-cache.ts";
import { testRegistry } from "../support/registry.ts";

const registry = testRegistry();
afterAll(() => registry.cleanup());

const order = (extra: object[] = []) =>
  JSON.stringify({ type: "record", name: "Order", namespace: "shop", fields: [{ name: "id", type: "string" }, ...extra] });

describe("registry client (real registry)", () => {
  test("registers idempotently, looks up, lists versions and reads them back", async () => {
    const subject = registry.subject("client");
    expect(await registry.client.versions(subject)).toEqual([]);
    expect(await registry.client.lookup(subject, order())).toBeNull();
    const { id } = await registry.client.register(subject, order());
    expect((await registry.client.register(subject, order())).id).toBe(id);
    const v2 = await registry.client.register(subject, order([{ name: "note", type: "string", default: "" }]));
    expect(v2.id).not.toBe(id);
    expect(await registry.client.versions(subject)).toEqual([1, 2]);
    expect(await registry.client.subjects()).toContain(subject);
    expect(await registry.client.lookup(subject, order())).toMatchObject({ subject, version: 1, id });
    expect(await registry.client.version(subject, "latest")).toMatchObject({ version: 2, id: v2.id, schemaType: "AVRO" });
    // Ids are content ids: the registry may hand back an equal schema registered earlier in other words.
    const back = (await registry.client.schemaById(id))!.schema;
    expect(canonicalText(parseSchemaText(back, "registry"))).toBe(canonicalText(parseSchemaText(order(), "file")));
  });

  test("an unknown id is null; an incompatible registration is a 409 naming the problem", async () => {
    expect(await registry.client.schemaById(2_000_000_000)).toBeNull();
    const subject = registry.subject("client-409");
    await registry.client.register(subject, order());
    const error = (await registry.client.register(subject, order([{ name: "n", type: "int" }])).catch((e: unknown) => e)) as RegistryRequestError;
    expect(error).toBeInstanceOf(RegistryRequestError);
    expect(error.status).toBe(409);
  });

  test("reads and sets the compatibility level per subject, falling back to the global one", async () => {
    const subject = registry.subject("client-config");
    expect(await registry.client.compatibility(subject)).toBe("BACKWARD");
    await registry.client.setCompatibility(subject, "FULL_TRANSITIVE");
    expect(await registry.client.compatibility(subject)).toBe("FULL_TRANSITIVE");
  });

  test("the cache fetches an id once for many concurrent readers", async () => {
    const subject = registry.subject("client-cache");
    const { id } = await registry.client.register(subject, order());
    const cache = createSchemaCache(registry.client);
    await Promise.all(Array.from({ length: 20 }, () => cache.warm([id])));
    expect(cache.fetches).toBe(1);
    expect(cache.peek(id)).toMatchObject({ kind: "avro" });
  });

  test("a registry that does not answer is an infrastructure failure", async () => {
    const closed = createRegistryClient(createRegistryHttp({ url: "http://127.0.0.1:9", timeoutMs: 500, retries: 1, retryBackoffMs: 10 }));
    await expect(closed.schemaById(1)).rejects.toBeInstanceOf(RegistryUnavailableError);
  });
});
