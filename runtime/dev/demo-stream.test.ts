import { expect, test } from "bun:test";
import { demoStream, expectedEnd } from "./demo-stream.ts";

test("the demo stream's duplicates are what they claim to be", () => {
  const items = demoStream("r1", 0);
  const firstOf = new Map<string, (typeof items)[number]>();
  for (const item of items) {
    const original = firstOf.get(item.key);
    if (item.expect === "technical-duplicate") expect(original?.eventId).toBe(item.eventId); // same event id, same key
    if (item.expect === "functional-duplicate") {
      expect(original?.eventId).not.toBe(item.eventId); // same order (business key), a new event id
      expect(item.value).toEqual(original!.value);
    }
    if (!original) firstOf.set(item.key, item);
  }
  expect(Buffer.isBuffer(items.find((i) => i.expect === "decode-failed")!.value)).toBe(true);
  expect(expectedEnd(items)).toEqual({ applied: 10, technicalDuplicates: 3, deadLetters: { "functional-duplicate": 2, "decode-failed": 1, permanent: 1 } });
});

test("another run id makes other orders, so a rerun on the same database ends the same way", () => {
  const ids = (run: string) => new Set(demoStream(run).map((i) => i.key));
  const a = ids("aaa");
  expect([...ids("bbb")].some((k) => a.has(k))).toBe(false);
});
