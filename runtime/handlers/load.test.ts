import { describe, expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { HandlerLoadError } from "../errors.ts";
import { listHandlerFiles, loadHandlerFile, loadHandlers } from "./load.ts";

function dirWith(files: Record<string, string>): string {
  const dir = mkdtempSync(path.join(tmpdir(), "ferry-load-"));
  for (const [name, content] of Object.entries(files)) writeFileSync(path.join(dir, name), content);
  return dir;
}

async function problemsOf(promise: Promise<unknown>): Promise<string[]> {
  try {
    await promise;
  } catch (e) {
    if (e instanceof HandlerLoadError) return e.problems;
    throw e;
  }
  throw new Error("expected a HandlerLoadError");
}

describe("loading handlers", () => {
  test("loads a handler that imports the virtual module, with defaults filled in", async () => {
    const dir = dirWith({
      "orders.ts": `import { defineHandler } from "ferry";
        export default defineHandler({ topic: ["orders", "orders"], businessKey: (o: any) => o.id, async handle() {} });`,
    });
    const [handler] = await loadHandlers(dir);
    expect(handler!.name).toBe("orders");
    expect(handler!.topics).toEqual(["orders"]);
    expect(handler!.format).toBe("json");
    expect(handler!.retry).toEqual({ attempts: 5, backoffMs: 200, maxBackoffMs: 30_000 });
    expect(handler!.businessKey!({ id: "o-1" }, {} as never)).toBe("o-1");
  });

  test("lists only handler modules: no tests, type files, dotfiles or editor temp files", async () => {
    const dir = dirWith({ "a.ts": "", "b.js": "", "a.test.ts": "", "t.d.ts": "", ".hidden.ts": "", "c.ts~": "", "4913": "", "x.ts.swp": "" });
    expect((await listHandlerFiles(dir)).map((f) => path.basename(f))).toEqual(["a.ts", "b.js"]);
  });

  test.each([
    ["no default export", `export const x = 1;`, ["the module has no default export: export default defineHandler({ topic, handle })"]],
    ["a non-object export", `export default 42;`, ["the default export must be a handler object from defineHandler(...), got number"]],
    ["missing topic", `export default { handle() {} };`, ["`topic` is missing"]],
    ["missing handle", `export default { topic: "t" };`, ["`handle` is missing: define handle(value, ctx) (or handleBatch(items, ctx) for set-based effects)"]],
    ["both handle and handleBatch", `export default { topic: "t", handle() {}, handleBatch() {} };`, ["define `handle` or `handleBatch`, not both"]],
    ["a bad topic name", `export default { topic: "has space", handle() {} };`, ["`topic` names are 1-249 characters of letters, digits, '.', '_' and '-'"]],
    ["a bad retry policy", `export default { topic: "t", retry: { attempts: 0 }, handle() {} };`, ["`retry.attempts` must be at least 1"]],
    [
      "a non-function business key",
      `export default { topic: "t", businessKey: "id", handle() {} };`,
      ["`businessKey` must be a function (value, event) => string"],
    ],
  ])("refuses %s, saying what was expected", async (_label, source, expected) => {
    const dir = dirWith({ "h.ts": source });
    expect(await problemsOf(loadHandlerFile(path.join(dir, "h.ts")))).toEqual(expected);
  });

  test("a module that throws at import is refused with its path", async () => {
    const dir = dirWith({ "boom.ts": `throw new Error("kaboom");` });
    const file = path.join(dir, "boom.ts");
    const error = await loadHandlerFile(file).catch((e) => e);
    expect(error).toBeInstanceOf(HandlerLoadError);
    expect(error.message).toContain(file);
    expect(error.message).toContain("importing it failed: kaboom");
  });

  test("a missing directory is refused", async () => {
    expect(await problemsOf(loadHandlers("/nonexistent/handlers"))).toEqual(["the handlers directory does not exist or is not a directory"]);
  });
});

test("a reload imports the file's current content and leaves no copy behind", async () => {
  const dir = dirWith({ "orders.ts": `export default { topic: "v1", async handle() {} };` });
  const file = path.join(dir, "orders.ts");
  expect((await loadHandlerFile(file)).topics).toEqual(["v1"]);
  writeFileSync(file, `export default { topic: "v2", async handle() {} };`);
  const reloaded = await loadHandlerFile(file, 1);
  expect(reloaded.topics).toEqual(["v2"]);
  expect(reloaded.file).toBe(file);
  expect(await listHandlerFiles(dir)).toEqual([file]);
  expect(await Array.fromAsync(new Bun.Glob(".*").scan({ cwd: dir, dot: true }))).toEqual([]);
});
