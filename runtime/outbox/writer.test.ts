/**
 * What `ctx.publish` refuses at the call, before anything is written: keys, headers and calls that
 * Kafka could not carry as given, or that would be lost. Each refusal is a PublishError (not
 * retriable: the same call fails the same way), so the failure policy dead-letters the event at
 * once instead of retrying it or letting a changed record go out.
 */
import { describe, expect, test } from "bun:test";
import type { TransactionSql } from "postgres";
import { eventMeta } from "../../tests/support/events.ts";
import { PublishError } from "../errors.ts";
import type { LoadedHandler } from "../handlers/validate.ts";
import { plainEncoder } from "./encode.ts";
import { createOutboxWriter, WRITE_CHUNK } from "./writer.ts";

const event = eventMeta("e-1", 7);
const handler = { name: "invoices" } as LoadedHandler;

function call() {
  const writer = createOutboxWriter({
    eventIdHeader: "event-id",
    encoders: new Map([["invoices", new Map([["invoice-requested", plainEncoder("json", "invoice-requested")]])]]),
    wake: () => {},
  });
  // Publishing only queues rows; the transaction is used by settle(), which these tests never reach.
  return writer.open({} as TransactionSql, handler, "group.invoices");
}

const refusal = (publish: () => unknown) => {
  try {
    publish();
  } catch (e) {
    return e;
  }
  throw new Error("the publish was not refused");
};

describe("ctx.publish refuses at the call", () => {
  test.each([
    ["a number key", { key: 42 }, "the key must be a string, a Buffer or null, got number", "invalid-key"],
    ["an object key", { key: { id: 1 } }, "got object", "invalid-key"],
    ["a key with a lone surrogate", { key: "order-\uD800" }, "the key has a lone UTF-16 surrogate", "invalid-key"],
    ["a header that is not a string", { headers: { attempt: 3 } }, "header attempt must be a string, got number", "invalid-headers"],
    ["headers given as an array", { headers: ["a"] }, "headers must be an object of string values, got an array", "invalid-headers"],
    ["a header value with a lone surrogate", { headers: { note: "\uDFFF" } }, "header note has a lone UTF-16 surrogate", "invalid-headers"],
    ["a header value with a NUL", { headers: { note: "a\u0000b" } }, 'header "note" contains U+0000 (NUL)', "invalid-headers"],
    ["a header name with a NUL", { headers: { "no\u0000te": "a" } }, 'header "no\\u0000te" contains U+0000 (NUL)', "invalid-headers"],
    ["Ferry's own event id header", { headers: { "event-id": "mine" } }, "the header event-id is Ferry's event id, set by Ferry itself", "invalid-headers"],
  ])("%s", (_, options, message, code) => {
    const error = refusal(() => call().publish("invoice-requested", { n: 1 }, options as never, event));
    expect(error).toBeInstanceOf(PublishError);
    expect((error as PublishError).message).toContain(message);
    expect((error as PublishError).code).toBe(code);
    expect((error as PublishError).retriable).toBe(false);
  });

  test("two keys that differ only in their lone surrogates are not merged into one U+FFFD key", () => {
    const publishing = call();
    expect(() => publishing.publish("invoice-requested", {}, { key: "\uD800" }, event)).toThrow(PublishError);
    expect(() => publishing.publish("invoice-requested", {}, { key: "\uDBFF" }, event)).toThrow(PublishError);
  });

  test("keys as strings, Buffers and Uint8Arrays, and string headers, are accepted", () => {
    const publishing = call();
    publishing.publish("invoice-requested", { n: 1 }, { key: "k-é", headers: { kind: "reminder" } }, event);
    publishing.publish("invoice-requested", { n: 2 }, { key: Buffer.from([0xff, 0x00]) }, event);
    publishing.publish("invoice-requested", { n: 3 }, { key: new Uint8Array([1, 2]).subarray(1) }, event);
  });

  test("a publish after the transaction ended is refused, not silently dropped", () => {
    const publishing = call();
    publishing.publish("invoice-requested", { n: 1 }, undefined, event);
    publishing.close();
    const error = refusal(() => publishing.publish("invoice-requested", { n: 2 }, undefined, event));
    expect((error as PublishError).code).toBe("publish-after-return");
    expect((error as PublishError).message).toContain("after the handler's call returned and its transaction ended");
  });
});

describe("writing what was published", () => {
  /** A transaction that records the outbox inserts it is given (their row counts) and answers at once with the rows written, or fails them. */
  function recordingTx(fail = false) {
    const inserts: number[] = [];
    let id = 0;
    const tx = (strings: TemplateStringsArray, ...values: unknown[]) => ({
      execute: () => {
        if (strings[0]!.includes("insert into ferry_outbox")) {
          // The first array parameter is the event ids (keys and values come before it, as one Buffer).
          const eventIds = values.find((v) => Array.isArray(v)) as string[];
          inserts.push(eventIds.length);
          if (fail) return Promise.reject(new Error("the insert failed"));
          return Promise.resolve(eventIds.map((e) => ({ id: String(++id), event_id: e, created_ms: 0 })));
        }
        return Promise.resolve([]);
      },
    });
    return { inserts, tx: tx as unknown as TransactionSql };
  }
  const writerFor = (tx: TransactionSql) =>
    createOutboxWriter({
      eventIdHeader: "event-id",
      encoders: new Map([["invoices", new Map([["invoice-requested", plainEncoder("string", "invoice-requested")]])]]),
      wake: () => {},
    }).open(tx, handler, "group.invoices");

  test("a call's publishes go in one statement, unless they pass WRITE_CHUNK's rows or bytes: then in statements as they pass it", async () => {
    const { inserts, tx } = recordingTx();
    const outbox = writerFor(tx);
    for (let i = 0; i < 1_000; i++) await outbox.publish("invoice-requested", `small-${i}`, undefined, event);
    expect(await outbox.settle()).toBe(1_000);
    expect(inserts).toEqual([1_000]);

    const chunked = recordingTx();
    const fanOut = writerFor(chunked.tx);
    for (let i = 0; i < WRITE_CHUNK.rows + 5; i++) void fanOut.publish("invoice-requested", `n-${i}`, undefined, event);
    // 20 values of 900 KB: the 19th passes 16 MiB.
    for (let i = 0; i < 20; i++) await fanOut.publish("invoice-requested", "x".repeat(900_000), undefined, event);
    expect(await fanOut.settle()).toBe(WRITE_CHUNK.rows + 25);
    expect(chunked.inserts).toEqual([WRITE_CHUNK.rows, 5 + 19, 1]);
  });

  test("a chunk's failure fails the publish that passed it and the call's settle, even when the handler did not await it", async () => {
    const { tx } = recordingTx(true);
    const outbox = writerFor(tx);
    for (let i = 0; i < WRITE_CHUNK.rows - 1; i++) void outbox.publish("invoice-requested", `n-${i}`, undefined, event);
    // Not awaited: no unhandled rejection, and the failure is the call's.
    void outbox.publish("invoice-requested", "the last", undefined, event);
    await expect(outbox.settle()).rejects.toThrow("the insert failed");
  });
});
