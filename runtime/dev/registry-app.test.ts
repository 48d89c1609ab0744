import { afterAll, describe, expect, test } from "bun:test";
import { AvroDeserializer, AvroSerializer, SchemaRegistryClient, SerdeType } from "@confluentinc/schemaregistry";
import path from "node:path";
import { RegistryRequestError } from "../errors.ts";
import { createRegistryClient } from "../registry/client.ts";
import { createRegistryHttp } from "../registry/http.ts";
import { loadSchemaFile } from "../schemas/catalog.ts";
import { createRegistryApp } from "./registry-app.ts";
import { createRegistryStore } from "./registry-store.ts";

const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: createRegistryApp(createRegistryStore()).fetch });
afterAll(() => server.stop(true));
const url = `http://127.0.0.1:${server.port}`;
const ferry = createRegistryClient(createRegistryHttp({ url, timeoutMs: 2_000, retries: 0, retryBackoffMs: 10 }));
const orderPlaced = await loadSchemaFile(path.resolve(import.meta.dir, "../../schemas/order-placed.avsc"));

const v1 = {
  type: "record",
  name: "Payment",
  namespace: "shop.pay",
  fields: [
    { name: "id", type: "string" },
    { name: "cents", type: "int" },
  ],
};
const v2 = { ...v1, fields: [...v1.fields, { name: "currency", type: "string", default: "EUR" }] };
const v3Breaking = { ...v1, fields: [...v1.fields, { name: "payer", type: "string" }] };

describe("Ferry's registry client against ferry dev's registry", () => {
  test("registers versions, gives one id per schema, looks them up and reads them back", async () => {
    const first = await ferry.register("payments-value", JSON.stringify(v1));
    expect(await ferry.register("payments-value", JSON.stringify(v1))).toEqual(first); // idempotent
    const second = await ferry.register("payments-value", JSON.stringify(v2));
    expect(second.id).not.toBe(first.id);
    expect(await ferry.versions("payments-value")).toEqual([1, 2]);
    expect(await ferry.lookup("payments-value", JSON.stringify(v2))).toMatchObject({ subject: "payments-value", version: 2, id: second.id });
    expect(await ferry.lookup("payments-value", JSON.stringify(v3Breaking))).toBeNull();
    expect((await ferry.version("payments-value", "latest")).version).toBe(2);
    expect(JSON.parse((await ferry.schemaById(first.id))!.schema)).toEqual(v1);
    expect(await ferry.schemaById(999)).toBeNull();
    // The same schema under another subject keeps its id, as Confluent's registry does.
    expect((await ferry.register("payments-copy-value", JSON.stringify(v1))).id).toBe(first.id);
  });

  test("refuses an incompatible version with 409 under the subject's level, and accepts it under NONE", async () => {
    expect(await ferry.compatibility("payments-value")).toBe("BACKWARD");
    expect(await ferry.testCompatibility("payments-value", JSON.stringify(v3Breaking))).toBe(false);
    const refused = await ferry.register("payments-value", JSON.stringify(v3Breaking)).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(RegistryRequestError);
    expect((refused as RegistryRequestError).status).toBe(409);
    expect((refused as RegistryRequestError).message).toContain("payer");
    await ferry.setCompatibility("payments-value", "NONE");
    expect(await ferry.compatibility("payments-value")).toBe("NONE");
    expect((await ferry.register("payments-value", JSON.stringify(v3Breaking))).id).toBeGreaterThan(0);
  });

  test("deletes a subject", async () => {
    await ferry.register("doomed-value", JSON.stringify(v1));
    await ferry.deleteSubject("doomed-value");
    expect(await ferry.versions("doomed-value")).toEqual([]);
  });

  test("an invalid schema is a 422 that names the problem", async () => {
    const refused = await ferry.register("bad-value", '{"type":"record","name":"X","fields":[{"name":"a","type":"strin"}]}').catch((e: unknown) => e);
    expect((refused as RegistryRequestError).status).toBe(422);
    expect((refused as RegistryRequestError).message).toContain("strin");
  });
});

test("Confluent's own serdes work against it: serialize with the latest version, deserialize by id", async () => {
  const confluent = new SchemaRegistryClient({ baseURLs: [url] });
  const serializer = new AvroSerializer(confluent, SerdeType.VALUE, { useLatestVersion: true });
  const order = {
    orderId: "o-1",
    customerId: "c-1",
    totalCents: 4200,
    currency: "EUR",
    paymentMethod: "CARD",
    items: [],
    couponCode: null,
    placedAt: 1_760_000_000_000,
  };
  await ferry.register("orders-interop-value", orderPlaced.text);
  const bytes = await serializer.serialize("orders-interop", order);
  expect(bytes.readUInt32BE(1)).toBe((await ferry.lookup("orders-interop-value", orderPlaced.text))!.id);
  const deserializer = new AvroDeserializer(confluent, SerdeType.VALUE, {});
  expect(JSON.parse(JSON.stringify(await deserializer.deserialize("orders-interop", bytes)))).toEqual(order);
});
