/**
 * Avro end to end through the compiled binary: the schema pipeline (build, codegen, check,
 * register), `ferry produce`, an Avro handler in `ferry run`, dead letters for undecodable
 * bytes, the start-up gate, and a registry outage that must not dead-letter anything.
 */
import { afterAll, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { frame } from "../../runtime/avro/wire-format.ts";
import { createAvroWorld } from "../support/avro-world.ts";
import { runFerry } from "../support/ferry-process.ts";
import { testRegistry } from "../support/registry.ts";
import { header, readRecords } from "../support/scenario.ts";
import { useScenarios } from "../support/suite.ts";
import { waitFor } from "../support/wait.ts";

const { sql, kafka, track } = useScenarios();
const registry = testRegistry();
afterAll(() => registry.cleanup());
const world = async (name: string, options?: Parameters<typeof createAvroWorld>[2]) =>
  track(await createAvroWorld(name, { kafka: kafka(), sql, registry }, options));

// Order ids are business keys, unique per handler forever: each test's ids carry its topic.
const order = (n: number, prefix: string) => ({
  orderId: `${prefix}-o-${n}`,
  customerId: `c-${n % 5}`,
  totalCents: 10_000_000_000 + n,
  ...(n % 2 ? {} : { currency: "USD" }), // odd lines rely on the schema's default (EUR)
  items: [{ sku: `sku-${n}`, quantity: 1 + (n % 3), unitPriceCents: 100 }],
  couponCode: n % 3 ? null : "SPRING",
  placedAt: 1_760_000_000_000 + n,
});

test("an Avro handler applies what ferry produce sent; undecodable bytes are dead-lettered as decode-failed with the reason", async () => {
  const w = await world("e2e");
  expect((await w.schemas("build")).code).toBe(0);
  expect((await w.schemas("codegen")).code).toBe(0);
  expect((await w.schemas("build", "--check")).code).toBe(0);
  expect((await w.schemas("codegen", "--check")).code).toBe(0);
  const check = await w.schemas("check");
  expect([check.code, check.output]).toEqual([0, expect.stringContaining(`new          ${w.topic}-value (order-placed.avsc)`)]);
  const registered = await w.schemas("register");
  expect(registered.code).toBe(0);
  expect(registered.output).toMatch(new RegExp(`registered +${w.topic}-value \\(order-placed.avsc\\): version 1, id \\d+`));
  expect((await w.schemas("register")).output).toMatch(/unchanged +.*version 1, id \d+/);

  const N = 40;
  const input = path.join(w.root, "orders.jsonl");
  writeFileSync(input, `${Array.from({ length: N }, (_, i) => JSON.stringify(order(i, w.topic))).join("\n")}\n`);
  const produced = await w.produce(["--key-field", "orderId", "--input", input, "--json"]);
  expect(produced.code).toBe(0);
  const summary = JSON.parse(produced.output.trim().split("\n").pop()!);
  expect(summary).toMatchObject({ topic: w.topic, subject: `${w.topic}-value`, produced: N });

  const schemaId = summary.schemaId as number;
  await kafka().send([
    { topic: w.topic, key: "bad-1", value: JSON.stringify(order(1000, w.topic)), headers: { "event-id": `${w.topic}-json` } },
    { topic: w.topic, key: "bad-2", value: frame(schemaId, Buffer.from([2, 65])), headers: { "event-id": `${w.topic}-truncated` } },
    { topic: w.topic, key: "bad-3", value: frame(2_000_000_000, Buffer.from([0])), headers: { "event-id": `${w.topic}-unknown-id` } },
  ]);

  const ferry = w.start();
  await ferry.waitForLog("engine:running");
  await waitFor(`${N} orders applied`, async () => (await w.rows()).length === N, { timeoutMs: 120_000, intervalMs: 250 });
  const rows = await w.rows();
  const byOrder = Object.fromEntries(rows.map((r) => [r.order_id, r]));
  expect(byOrder[`${w.topic}-o-1`]).toMatchObject({ total_cents: "10000000001", currency: "EUR", payment: "CARD", items: 1, coupon: null });
  expect(byOrder[`${w.topic}-o-0`]).toMatchObject({ total_cents: "10000000000", currency: "USD", items: 1, coupon: "SPRING" });

  const letters = await readRecords(kafka(), `${w.topic}.dlt`, 3);
  const reasons = Object.fromEntries(letters.map((r) => [header(r, "ferry-event-id"), [header(r, "ferry-reason"), header(r, "ferry-error-message")]]));
  expect(reasons[`${w.topic}-json`]).toEqual([
    "decode-failed",
    expect.stringMatching(/^bad-magic-byte: the value starts with byte 0x7b, not the magic byte 0x00/),
  ]);
  expect(reasons[`${w.topic}-truncated`]).toEqual([
    "decode-failed",
    expect.stringMatching(
      /^truncated-payload: field customerId is cut off: the payload ends before it \(at byte 2 of the 2-byte payload\); written with schema id \d+$/,
    ),
  ]);
  expect(reasons[`${w.topic}-unknown-id`]).toEqual([
    "decode-failed",
    expect.stringMatching(/^unknown-schema-id: schema id 2000000000 is not known to the schema registry/),
  ]);

  ferry.proc.kill("SIGTERM");
  expect(await ferry.exited).toBe(0);
});

test("the gate stops ferry run when the handler's reader cannot read a registered version, naming it", async () => {
  const w = await world("gate");
  expect((await w.schemas("build")).code).toBe(0);
  expect((await w.schemas("register")).code).toBe(0);
  // The handler's reader needs a field that version 1 does not have, without a default.
  const reader = JSON.parse(await Bun.file(path.join(w.schemasDir, "order-placed.avsc")).text());
  reader.fields.push({ name: "channel", type: "string" });
  writeFileSync(path.join(w.schemasDir, "reader.avsc"), JSON.stringify(reader));
  writeFileSync(
    path.join(w.handlersDir, "order-sink.ts"),
    (await Bun.file(path.join(w.handlersDir, "order-sink.ts")).text()).replace("order-placed.avsc", "reader.avsc"),
  );

  const failed = w.start();
  expect(await failed.exited).toBe(1);
  expect(failed.output()).toContain(`cannot read ${w.topic}-value version 1`);
  expect(failed.output()).toContain("field `OrderPlaced.channel` added without a default: data written with version 1 cannot be read");

  const held = w.start({ FERRY_SCHEMA_GATE: "not-ready", FERRY_HTTP_PORT: "0" });
  const listening = await held.waitForLog("http:listening");
  const ready = await fetch(`http://127.0.0.1:${listening.port}/readyz`);
  expect(ready.status).toBe(503);
  expect(await ready.text()).toContain("order-sink is held back by the schema gate");
  held.proc.kill("SIGTERM");
  expect(await held.exited).toBe(0);
});

test("a registry outage makes the partition wait: nothing is dead-lettered, the event applies once the registry is back", async () => {
  const w = await world("outage", { readerSchema: "../schemas/order-placed.avsc" });
  expect((await w.schemas("build")).code).toBe(0);
  expect((await w.schemas("register")).code).toBe(0);
  let down = false;
  let refused = 0;
  const proxy = Bun.serve({
    port: 0,
    async fetch(request) {
      const url = new URL(request.url);
      if (down && url.pathname.includes("/schemas/ids/")) {
        refused++;
        return new Response(JSON.stringify({ message: "unavailable" }), { status: 503 });
      }
      const upstream = await fetch(`${registry.url}${url.pathname.replace(/^\/proxy/, "")}${url.search}`, {
        method: request.method,
        headers: { "content-type": request.headers.get("content-type") ?? "application/json" },
        ...(request.method === "GET" ? {} : { body: await request.text() }),
      });
      return new Response(await upstream.text(), { status: upstream.status, headers: { "content-type": "application/json" } });
    },
  });
  try {
    const ferry = w.start({ FERRY_SCHEMA_REGISTRY_URL: `http://127.0.0.1:${proxy.port}/proxy`, FERRY_SCHEMA_REGISTRY_RETRIES: "0" });
    await ferry.waitForLog("engine:running");
    down = true;
    const produced = await w.produce(["--key-field", "orderId"].concat(["--input", writeLines(w.root, [order(1, w.topic)])]));
    expect(produced.code).toBe(0);
    await ferry.waitForLog("partition:waiting", 60_000);
    expect((await w.rows()).length).toBe(0);
    down = false;
    await waitFor("the order applied after the outage", async () => (await w.rows()).length === 1, { timeoutMs: 60_000 });
    expect(refused).toBeGreaterThan(0);
    const deadLetters = await kafka().admin.fetchTopicOffsets(`${w.topic}.dlt`);
    expect(deadLetters.reduce((sum, p) => sum + Number(p.high), 0)).toBe(0);
    ferry.proc.kill("SIGTERM");
    expect(await ferry.exited).toBe(0);
  } finally {
    proxy.stop(true);
  }
});

test("ferry schemas: an incompatible change fails check and register --dry-run naming the field; offline check uses history/", async () => {
  const w = await world("evolve");
  expect((await w.schemas("build")).code).toBe(0);
  expect((await w.schemas("register")).code).toBe(0);
  const avdl = path.join(w.schemasDir, "order-placed.avdl");
  const original = await Bun.file(avdl).text();
  writeFileSync(avdl, original.replace("    string customerId;", "    string customerId;\n    boolean giftWrap;"));
  expect((await w.schemas("build", "--check")).code).toBe(1); // the .avsc is stale until rebuilt
  expect((await w.schemas("build")).code).toBe(0);

  const check = await w.schemas("check");
  expect(check.code).toBe(1);
  expect(check.output).toContain(`INCOMPATIBLE ${w.topic}-value (order-placed.avsc) under BACKWARD:`);
  expect(check.output).toContain("field `OrderPlaced.giftWrap` added without a default: data written with version 1 cannot be read");
  const dry = await w.schemas("register", "--dry-run", "--json");
  expect(dry.code).toBe(1);
  expect(JSON.parse(dry.output).results[0]).toMatchObject({
    status: "refused",
    problems: [{ rule: "missing-default", path: "OrderPlaced.giftWrap", version: 1 }],
  });

  writeFileSync(avdl, original.replace("    string customerId;", "    string customerId;\n    boolean giftWrap = false;"));
  expect((await w.schemas("build")).code).toBe(0);
  const fixed = await w.schemas("check");
  expect([fixed.code, fixed.output]).toEqual([0, expect.stringContaining(`compatible   ${w.topic}-value (order-placed.avsc): with version 1 under BACKWARD`)]);
  expect((await w.schemas("register")).output).toMatch(/registered +.*version 2, id \d+/);

  // Offline: no registry, the previous version kept in the repository.
  const history = path.join(w.schemasDir, "history", "order-placed");
  await Bun.write(path.join(history, "1.avsc"), Bun.file(path.join(w.schemasDir, "order-placed.avsc")));
  writeFileSync(avdl, original.replace("    long totalCents;", "    int totalCents;"));
  expect((await w.schemas("build")).code).toBe(0);
  const offline = await runFerry(["schemas", "check", "--offline", "--level", "FULL", "--dir", w.schemasDir]);
  expect(offline.code).toBe(1);
  expect(offline.output).toContain("`OrderPlaced.totalCents` changed from long to int");

  writeFileSync(avdl, original.replace("    string customerId;", "    strin customerId;"));
  const broken = await w.schemas("build");
  expect(broken.code).toBe(2);
  expect(broken.output).toContain(`${avdl}:`);
  expect(broken.output).toContain("undefined type name: strin");
});

function writeLines(dir: string, values: unknown[]): string {
  const file = path.join(dir, `input-${Math.random().toString(36).slice(2)}.jsonl`);
  writeFileSync(file, values.map((v) => JSON.stringify(v)).join("\n"));
  return file;
}
