import { describe, expect, test } from "bun:test";
import { completedPrefix } from "./completed-prefix.ts";

describe("completedPrefix", () => {
  test("stays at the first offset while the first record is not done", () => {
    const prefix = completedPrefix(["10", "11", "12"]);
    expect(prefix.complete(2)).toBe(false);
    expect(prefix.complete(1)).toBe(false);
    expect(prefix.next()).toBe("10");
    expect(prefix.done).toBe(false);
  });

  test("jumps over every record completed out of order once the gap closes", () => {
    const prefix = completedPrefix(["10", "11", "12", "13"]);
    prefix.complete(2);
    prefix.complete(1);
    expect(prefix.complete(0)).toBe(true);
    expect(prefix.next()).toBe("13");
    expect(prefix.complete(3)).toBe(true);
    expect(prefix.next()).toBe("14");
    expect(prefix.done).toBe(true);
  });

  test("offset gaps (compaction, transaction markers) end the prefix after the last done record", () => {
    const prefix = completedPrefix(["5", "9", "20"]);
    prefix.complete(0);
    expect(prefix.next()).toBe("6");
    prefix.complete(1);
    expect(prefix.next()).toBe("10");
  });

  test("64-bit offsets", () => {
    const prefix = completedPrefix(["9007199254740993"]);
    prefix.complete(0);
    expect(prefix.next()).toBe("9007199254740994");
  });

  test.each([
    ["in order", [0, 1, 2, 3, 4]],
    ["reversed", [4, 3, 2, 1, 0]],
    ["interleaved", [1, 3, 0, 4, 2]],
  ])("completing every record %s ends at last + 1, never moving back", (_, order) => {
    const prefix = completedPrefix(["0", "1", "2", "3", "4"]);
    let last = 0n;
    for (const i of order) {
      prefix.complete(i);
      expect(BigInt(prefix.next())).toBeGreaterThanOrEqual(last);
      last = BigInt(prefix.next());
    }
    expect(prefix.next()).toBe("5");
  });

  test("a record outside the batch is a bug", () => {
    expect(() => completedPrefix(["1"]).complete(1)).toThrow("not in this batch");
    expect(() => completedPrefix([])).toThrow();
  });
});
