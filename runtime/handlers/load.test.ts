import { describe, expect, test } from "bun:test";
import { lstatSync, mkdirSync, mkdtempSync, renameSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { HandlerLoadError, StartAbortedError } from "../errors.ts";
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
      "a retry delay without a unit, and a missing topic",
      `export default { retry: { mode: "topics", delays: ["5s", "10"] }, handle() {} };`,
      ["`topic` is missing", '`retry.delays[1]`: "10" is not a delay: write a number and a unit, e.g. "500ms", "5s", "1m", "10m" or "1h"'],
    ],
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
    expect(error.message).toContain("importing it failed at line 1:11: kaboom");
  });

  test("a module whose top-level await never settles is refused after the import timeout, naming the limit", async () => {
    const dir = dirWith({ "stuck.ts": `await new Promise(() => {});\nexport default { topic: "t", handle() {} };` });
    const started = Date.now();
    const problems = await problemsOf(loadHandlerFile(path.join(dir, "stuck.ts"), { importTimeoutMs: 300 }));
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(problems).toEqual([
      "importing it did not finish within 0.3 s (FERRY_HANDLER_IMPORT_TIMEOUT_MS): its top-level code is still running, e.g. an `await` that never settles; move slow work into handle(), or raise the limit",
    ]);
  });

  test("a slow module within the import timeout loads", async () => {
    const dir = dirWith({ "slow.ts": `await Bun.sleep(200);\nexport default { topic: "t", handle() {} };` });
    expect((await loadHandlerFile(path.join(dir, "slow.ts"), { importTimeoutMs: 5_000 })).name).toBe("slow");
  });

  test("a stop signal gives up an import still running", async () => {
    const dir = dirWith({ "stuck.ts": `await new Promise(() => {});\nexport default { topic: "t", handle() {} };` });
    const controller = new AbortController();
    setTimeout(() => controller.abort("SIGTERM"), 100);
    const error = await loadHandlers(dir, { importTimeoutMs: 60_000, signal: controller.signal }).catch((e) => e);
    expect(error).toBeInstanceOf(StartAbortedError);
  });

  test("a stop signal that came before the import started gives it up too", async () => {
    const dir = dirWith({ "stuck.ts": `await new Promise(() => {});\nexport default { topic: "t", handle() {} };` });
    const controller = new AbortController();
    controller.abort("SIGTERM");
    const error = await loadHandlerFile(path.join(dir, "stuck.ts"), { importTimeoutMs: 60_000, signal: controller.signal }).catch((e) => e);
    expect(error).toBeInstanceOf(StartAbortedError);
  });

  test("modules slow to import load side by side: five of 600 ms each take about 600 ms, in the files' order", async () => {
    const slow = (topic: string) => `await Bun.sleep(600);\nexport default { topic: "${topic}", handle() {} };`;
    const dir = dirWith({ "e.ts": slow("e"), "a.ts": slow("a"), "c.ts": slow("c"), "b.ts": slow("b"), "d.ts": slow("d") });
    const started = Date.now();
    const handlers = await loadHandlers(dir);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(handlers.map((h) => h.name)).toEqual(["a", "b", "c", "d", "e"]);
  });

  test("a package that is not there is named with the handler's file, not the path it was imported under", async () => {
    const dir = dirWith({ "needs.ts": `import { z } from "surely-not-installed-pkg";\nexport default { topic: "t", handle() { z; } };` });
    const file = path.join(dir, "needs.ts");
    const [problem] = await problemsOf(loadHandlerFile(file));
    expect(problem).toBe(
      `importing it failed: Cannot find package 'surely-not-installed-pkg' imported from ${file} (a handler imports "ferry", "ferry/pg-core", "ferry/drizzle", its own relative files, and packages installed in a node_modules directory beside the handlers)`,
    );
  });

  test("a missing directory is refused", async () => {
    expect(await problemsOf(loadHandlers("/nonexistent/handlers"))).toEqual(["the handlers directory does not exist or is not a directory"]);
  });
});

/** Every entry under a directory (links not followed) with its type and modification time. */
async function snapshot(dir: string): Promise<string[]> {
  const entries = await Array.fromAsync(new Bun.Glob("**").scan({ cwd: dir, dot: true, onlyFiles: false, followSymlinks: false }));
  return entries.sort().map((e) => {
    const info = lstatSync(path.join(dir, e));
    return `${e} ${info.isSymbolicLink() ? "link" : info.isDirectory() ? "dir" : "file"} ${info.mtimeMs}`;
  });
}

test("a reload imports the file's current content and writes nothing anywhere near it", async () => {
  const dir = dirWith({ "orders.ts": `export default { topic: "v1", async handle() {} };` });
  const file = path.join(dir, "orders.ts");
  expect((await loadHandlerFile(file)).topics).toEqual(["v1"]);
  writeFileSync(file, `export default { topic: "v2", async handle() {} };`);
  const before = await snapshot(dir);
  const reloaded = await loadHandlerFile(file);
  expect(reloaded.topics).toEqual(["v2"]);
  expect(reloaded.file).toBe(file);
  expect(await snapshot(dir)).toEqual(before);
});

/**
 * A Kubernetes ConfigMap volume: every key is a symlink into `..data/`, itself a symlink to a
 * timestamped directory; an update writes a new timestamped directory and renames `..data_tmp`
 * over `..data` (kubelet's AtomicWriter).
 */
function configMapLike(root: string, files: Record<string, string>): string {
  const dir = path.join(root, "handlers");
  const stamp = `..2026_01_01_00_00_00.${Math.random().toString(36).slice(2, 10)}`;
  mkdirSync(path.join(dir, stamp), { recursive: true });
  for (const [name, content] of Object.entries(files)) writeFileSync(path.join(dir, stamp, name), content);
  symlinkSync(stamp, path.join(dir, "..data_tmp"));
  renameSync(path.join(dir, "..data_tmp"), path.join(dir, "..data"));
  for (const name of Object.keys(files)) symlinkSync(`..data/${name}`, path.join(dir, name));
  return dir;
}

describe("a ConfigMap-like directory of symlinks", () => {
  // Beside the handlers directory: a schema and a shared module the handler imports relatively.
  // Decoys where the paths would point if they were resolved from the links' targets instead.
  const root = mkdtempSync(path.join(tmpdir(), "ferry-configmap-"));
  mkdirSync(path.join(root, "schemas"));
  writeFileSync(path.join(root, "schemas/order.json"), JSON.stringify({ name: "right" }));
  mkdirSync(path.join(root, "shared"));
  writeFileSync(path.join(root, "shared/prefix.ts"), `export const prefix = "right";`);
  const dir = configMapLike(root, {
    "first.ts": `import { defineHandler } from "ferry";
      import type { Order } from "./types.d.ts";
      import schema from "../schemas/order.json";
      import { prefix } from "../shared/prefix.ts";
      export default defineHandler<Order>({ topic: prefix + "-" + schema.name, async handle() {} });`,
    "types.d.ts": "export interface Order { id: string }",
  });
  mkdirSync(path.join(dir, "schemas"));
  writeFileSync(path.join(dir, "schemas/order.json"), JSON.stringify({ name: "wrong" }));
  mkdirSync(path.join(dir, "shared"));
  writeFileSync(path.join(dir, "shared/prefix.ts"), `export const prefix = "wrong";`);

  test("lists the linked handler files, not `..data`, the timestamped directory or type files", async () => {
    expect(await listHandlerFiles(dir)).toEqual([path.join(dir, "first.ts")]);
  });

  test("resolves a handler's relative imports against the directory it is listed in", async () => {
    const [handler] = await loadHandlers(dir);
    expect(handler!.file).toBe(path.join(dir, "first.ts"));
    expect(handler!.topics).toEqual(["right-right"]);
  });

  test("a dangling link (a removed key, mid-update) is not a handler", async () => {
    symlinkSync("..data/gone.ts", path.join(dir, "gone.ts"));
    expect(await listHandlerFiles(dir)).toEqual([path.join(dir, "first.ts")]);
  });
});
