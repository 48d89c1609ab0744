import { describe, expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { frame } from "../avro/wire-format.ts";
import { parseSchema } from "../avro/parse-schema.ts";
import { ConfigError, HandlerLoadError, SchemaGateError } from "../errors.ts";
import type { LoadedHandler } from "../handlers/validate.ts";
import { createLogger } from "../log/logger.ts";
import type { RegistryClient } from "./client.ts";
import { prepareHandlerAvro } from "./handler-avro.ts";
import { createSchemaCache } from "./schema-cache.ts";

const v1 = { type: "record", name: "Order", namespace: "shop", fields: [{ name: "id", type: "string" }] };
const v2 = { ...v1, fields: [...v1.fields, { name: "total", type: "long" }] }; // no default: cannot read v1 data

/** A registry holding `orders-value` versions 1..n with ids 11.., and nothing else. */
function fakeRegistry(versions: object[]) {
  const client = fakeClient(versions);
  return { client, cache: createSchemaCache(client) };
}

function fakeClient(versions: object[]): RegistryClient {
  const at = (v: number) => ({ subject: "orders-value", version: v, id: 10 + v, schemaType: "AVRO", schema: JSON.stringify(versions[v - 1]) });
  return {
    versions: async (subject: string) => (subject === "orders-value" ? versions.map((_, i) => i + 1) : []),
    version: async (_subject: string, v: number | "latest") => at(v === "latest" ? versions.length : v),
    schemaById: async (id: number) => (id > 10 && id <= 10 + versions.length ? { schemaType: "AVRO", schema: at(id - 10).schema } : null),
  } as unknown as RegistryClient;
}

const dir = mkdtempSync(path.join(tmpdir(), "ferry-avro-handlers-"));
writeFileSync(path.join(dir, "order-v2.avsc"), JSON.stringify(v2));
const handler = (schema?: LoadedHandler["schema"], name = "totals"): LoadedHandler =>
  ({ name, file: path.join(dir, `${name}.ts`), topics: ["orders"], format: "avro", ...(schema ? { schema } : {}) }) as LoadedHandler;
const log = createLogger({ level: "error" });
const settings = { strategy: "TopicName", gate: "fail" } as const;

describe("prepareHandlerAvro", () => {
  test("nothing to do without Avro handlers; a registry is required with them", async () => {
    expect((await prepareHandlerAvro([{ ...handler(), format: "json" }], settings, log)).decoding.size).toBe(0);
    await expect(prepareHandlerAvro([handler()], settings, log)).rejects.toBeInstanceOf(ConfigError);
  });

  test("a reader that reads every registered version passes the gate and decodes", async () => {
    const avro = await prepareHandlerAvro([handler(v1)], settings, log, fakeRegistry([v1, v2]));
    const decoding = avro.decoding.get("totals")!;
    const bytes = frame(12, parseSchema(v2, "v2").toBuffer({ id: "o-1", total: 3 }));
    await decoding.warm([{ value: bytes } as never]);
    expect(decoding.decode(bytes)).toEqual({ id: "o-1" });
  });

  test("gate=fail: a reader that cannot read a registered version stops the start, naming subject, version and field", async () => {
    const error = await prepareHandlerAvro([handler("order-v2.avsc")], settings, log, fakeRegistry([v1])).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SchemaGateError);
    expect((error as Error).message).toContain(
      "handler totals (reader shop.Order) cannot read orders-value version 1 (id 11): field `Order.total` added without a default",
    );
  });

  test("gate=not-ready: the handler is held back with the reasons, the others go on", async () => {
    const avro = await prepareHandlerAvro([handler("order-v2.avsc"), handler(v1, "audit")], { ...settings, gate: "not-ready" }, log, fakeRegistry([v1]));
    expect([...avro.held.keys()]).toEqual(["totals"]);
    expect(avro.decoding.has("audit")).toBe(true);
  });

  test("a reader schema file that is missing or invalid is a load error naming the handler file", async () => {
    const missing = await prepareHandlerAvro([handler("nope.avsc")], settings, log, fakeRegistry([])).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(HandlerLoadError);
    expect((missing as Error).message).toContain(path.join(dir, "totals.ts"));
    expect((missing as Error).message).toContain("nope.avsc");
  });
});

test("handlers prepared with one shared registry fetch each schema id once", async () => {
  const shared = fakeRegistry([v1]);
  const first = await prepareHandlerAvro([handler(v1, "a")], settings, log, shared);
  const later = await prepareHandlerAvro([handler(v1, "b")], settings, log, shared); // a handler added while running
  const bytes = frame(11, parseSchema(v1, "v1").toBuffer({ id: "o-1" }));
  for (const avro of [first, later])
    await avro.decoding
      .values()
      .next()
      .value!.warm([{ value: bytes } as never]);
  expect(shared.cache.fetches).toBe(1);
});
