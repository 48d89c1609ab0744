import { expect, test } from "bun:test";
import { createProgress } from "./progress.ts";

test("off a terminal, prints at most one line per tenth", () => {
  const lines: string[] = [];
  const progress = createProgress("produced", 10_000, { write: (t) => lines.push(t), tty: false });
  for (let done = 1_000; done <= 10_000; done += 500) progress.update(done);
  progress.done();
  expect(lines).toHaveLength(10);
  expect(lines[0]).toBe("produced 1000/10000 (10%)\n");
  expect(lines.at(-1)).toBe("produced 10000/10000 (100%)\n");
});

test("on a terminal, rewrites one line and ends it", () => {
  const out: string[] = [];
  const progress = createProgress("replayed", 3, { write: (t) => out.push(t), tty: true });
  for (const n of [1, 2, 3]) progress.update(n);
  progress.done();
  expect(out.join("")).toBe("\rreplayed 1/3 (33%)\rreplayed 2/3 (66%)\rreplayed 3/3 (100%)\rreplayed 3/3 (100%)\n");
});
