import { describe, expect, test } from "bun:test";
import avro from "avsc";
import { judge, type SchemaJson } from "./avro-oracle.ts";
import { fuzzWorkload, fuzzWriterSchema } from "./avro-fuzz.ts";

const writer = avro.Type.forSchema(fuzzWriterSchema as never, { wrapUnions: "auto" } as never);
const schema = fuzzWriterSchema as SchemaJson;

describe("the fuzz oracle", () => {
  const records = fuzzWorkload({ prefix: "oracle", schemaId: 7, valid: 300, mutated: 3_000, seed: 11 });

  test("agrees with avsc on every valid record: same value", () => {
    const valid = records.filter((r) => r.kind === "valid");
    expect(valid.length).toBe(300);
    for (const r of valid) {
      const payload = r.value!.subarray(5);
      const verdict = judge(schema, payload);
      expect(verdict).toEqual({ ok: true, value: writer.fromBuffer(payload) });
    }
  });

  test("where it accepts a mutated record, avsc decodes the same value (no replaced text, no lost sign)", () => {
    let accepted = 0;
    for (const r of records) {
      if (r.kind === "valid" || r.value === null || r.value.length < 5 || r.value[0] !== 0 || r.value.readUInt32BE(1) !== 7) continue;
      const payload = r.value.subarray(5);
      const verdict = judge(schema, payload);
      if (!verdict.ok) continue;
      accepted++;
      expect(writer.fromBuffer(payload)).toEqual(verdict.value);
    }
    expect(accepted).toBeGreaterThan(100);
  });

  test("the workload is seeded: the same seed gives the same records", () => {
    const again = fuzzWorkload({ prefix: "oracle", schemaId: 7, valid: 300, mutated: 3_000, seed: 11 });
    expect(again.map((r) => [r.kind, r.value?.toString("hex"), r.expect])).toEqual(records.map((r) => [r.kind, r.value?.toString("hex"), r.expect]));
  });

  test("every mutation kind occurs, and most mutated records are refused for a reason of their own", () => {
    const kinds = new Set(records.map((r) => r.kind.split(":")[0]));
    expect([...kinds].sort()).toEqual(
      [
        "valid",
        "bit-flip",
        "byte-set",
        "truncate",
        "append",
        "count",
        "length",
        "pad-varint",
        "long",
        "int",
        "index",
        "boolean",
        "utf8",
        "utf8-order-id",
        "magic-byte",
        "unknown-schema-id",
        "truncated-header",
        "null-value",
        "event-id",
        "business key",
      ].sort(),
    );
    const reasons = new Set(records.map((r) => (r.expect.kind === "dead-letter" ? (r.expect.messagePrefix ?? r.expect.reason) : "apply")));
    for (const reason of [
      "invalid-utf8:",
      "count-exceeds-payload:",
      "too-many-items:",
      "negative-length:",
      "varint-too-long:",
      "long-out-of-range:",
      "truncated-payload:",
    ]) {
      expect(reasons).toContain(reason);
    }
  });

  test.each([
    ["…ff fe 41", [0xff, 0xfe, 0x41]],
    ["…fe ff 41", [0xfe, 0xff, 0x41]],
  ])("an orderId ending in %s is invalid-utf8", (_label, tail) => {
    const value = writer.toBuffer({ ...writer.random(), orderId: "" }).subarray(1);
    const id = Buffer.from([0x6f, ...tail]);
    expect(judge(schema, Buffer.concat([Buffer.from([id.length * 2]), id, value]))).toMatchObject({ ok: false, reason: "invalid-utf8" });
  });
});
