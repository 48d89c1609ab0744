/**
 * Handler modules whose import never finishes, through the compiled binary on the real services.
 * Before the import was bounded, a module with a top-level `await` that never settles held
 * `ferry run` in "starting" for ever (no log line, SIGTERM logged and ignored) and, dropped in
 * while running, held the hot-add queue: no later file was ever picked up and a SIGTERM never
 * finished draining.
 */
import { afterAll, expect, test } from "bun:test";
import { randomUUID } from "node:crypto";
import { rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { startFerry } from "../support/ferry-process.ts";
import { effectsHandler, effectsTableMigration, writeHandlersDir } from "../support/handlers.ts";
import { useScenarios } from "../support/suite.ts";
import { waitFor } from "../support/wait.ts";

const suite = useScenarios();
const { sql } = suite;
const tables: string[] = [];
afterAll(async () => {
  for (const t of tables) await sql`drop table if exists ${sql(t)}`.catch(() => undefined);
});

const stuck = (topic: string) => `import { defineHandler } from "ferry";
await new Promise(() => {}); // never settles
export default defineHandler({ topic: ${JSON.stringify(topic)}, async handle() {} });
`;

async function handlersWithGood(name: string) {
  const topic = await suite.kafka().createTopic(name, 1);
  const table = `import_${name.replace(/-/g, "_")}_${randomUUID().slice(0, 8)}`;
  tables.push(table);
  const dir = writeHandlersDir({ "good.ts": effectsHandler({ topic, table }) }, { [`0001_${table}.sql`]: effectsTableMigration(table) });
  return { topic, table, dir };
}

test("a module whose top-level await never settles stops the start-up with its file and the limit (exit 2); a signal during the import exits 0", async () => {
  const { topic, dir } = await handlersWithGood("import-start");
  writeFileSync(path.join(dir, "stuck.ts"), stuck(topic));

  const started = Date.now();
  const bounded = startFerry(["run", "--handlers", dir, "--group-prefix", `import-${randomUUID().slice(0, 8)}`], { FERRY_HANDLER_IMPORT_TIMEOUT_MS: "2000" });
  suite.track({ cleanup: () => bounded.proc.exitCode === null && bounded.proc.kill("SIGKILL") });
  expect(await bounded.exited).toBe(2);
  expect(Date.now() - started).toBeLessThan(15_000);
  expect(bounded.output()).toContain(`ferry: handler ${path.join(dir, "stuck.ts")} cannot be loaded:`);
  expect(bounded.output()).toContain("importing it did not finish within 2 s (FERRY_HANDLER_IMPORT_TIMEOUT_MS)");

  // With the default limit (30 s), a stop signal does not wait for it.
  const signalled = startFerry(["run", "--handlers", dir, "--group-prefix", `import-${randomUUID().slice(0, 8)}`]);
  suite.track({ cleanup: () => signalled.proc.exitCode === null && signalled.proc.kill("SIGKILL") });
  await signalled.waitForLog("handlers:loading");
  signalled.proc.kill("SIGTERM");
  const signalledAt = Date.now();
  expect(await signalled.exited).toBe(0);
  expect(Date.now() - signalledAt).toBeLessThan(5_000);
  expect(signalled.logs.some((l) => l.msg === "engine:start-aborted")).toBe(true);
}, 60_000);

test("hot-add: a module whose import never finishes is rejected after the limit and /readyz says so; later files are still picked up, its fixed version too, and SIGTERM drains", async () => {
  const { topic, table, dir } = await handlersWithGood("import-hot");
  const ferry = startFerry(["run", "--handlers", dir, "--group-prefix", `import-${randomUUID().slice(0, 8)}`], { FERRY_HANDLER_IMPORT_TIMEOUT_MS: "2000" });
  suite.track({ cleanup: () => ferry.proc.exitCode === null && ferry.proc.kill("SIGKILL") });
  await ferry.waitForLog("engine:running");
  const { port } = (await ferry.waitForLog("http:listening")) as { port: number };
  const logged = (msg: string, file: string) => waitFor(`${msg} for ${file}`, () => ferry.logs.find((l) => l.msg === msg && l.file === path.join(dir, file)));
  const readiness = async () => (await (await fetch(`http://127.0.0.1:${port}/readyz`)).json()) as { ok: boolean; reasons: string[] };
  await waitFor("ready", async () => (await readiness()).ok, { timeoutMs: 30_000 });
  // Once the handlers that run have joined their groups, the rejection is the one reason left.
  const readyzSays = (reasons: string[]) =>
    waitFor(`/readyz saying ${reasons.join(", ")}`, async () => JSON.stringify((await readiness()).reasons) === JSON.stringify(reasons), { timeoutMs: 30_000 });

  writeFileSync(path.join(dir, "stuck.ts"), stuck(topic));
  await logged("handlers:change-detected", "stuck.ts"); // its import is under way when the next file arrives
  writeFileSync(path.join(dir, "later.ts"), effectsHandler({ topic, table }));
  expect(await logged("handlers:rejected", "stuck.ts")).toMatchObject({
    problems: [
      "importing it did not finish within 2 s (FERRY_HANDLER_IMPORT_TIMEOUT_MS): its top-level code is still running, e.g. an `await` that never settles; move slow work into handle(), or raise the limit",
    ],
    running: "nothing runs from this file",
  });
  await logged("handler:added", "later.ts");
  await readyzSays([
    `handler file ${path.join(dir, "stuck.ts")} was rejected (nothing runs from it): importing it did not finish within 2 s (FERRY_HANDLER_IMPORT_TIMEOUT_MS): its top-level code is still running, e.g. an \`await\` that never settles; move slow work into handle(), or raise the limit; fix the file and save it again`,
  ]);

  // Fixed: picked up like any changed file, and ready again.
  writeFileSync(path.join(dir, "stuck.ts"), effectsHandler({ topic, table }));
  await logged("handler:added", "stuck.ts");
  await waitFor("ready again", async () => (await readiness()).ok, { timeoutMs: 30_000 });

  // Two files for one name: the second is refused while the first runs, and takes over once it is removed.
  writeFileSync(
    path.join(dir, "later.js"),
    effectsHandler({ topic, table })
      .replace("<Payload>", "")
      .replace(/interface Payload[^}]*}/, ""),
  );
  await logged("handlers:rejected", "later.js");
  await readyzSays([
    `handler file ${path.join(dir, "later.js")} was rejected (nothing runs from it): another file defines a handler named "later": ${path.join(dir, "later.ts")}; fix the file and save it again`,
  ]);
  rmSync(path.join(dir, "later.ts"));
  await logged("handler:removed", "later.ts");
  await logged("handler:added", "later.js");
  await waitFor("ready with later.js", async () => (await readiness()).ok, { timeoutMs: 30_000 });
  await suite.kafka().send([{ topic, key: "k", value: JSON.stringify({ n: 1, key: "k", seq: 1 }), headers: { "event-id": `${topic}-1` } }]);
  await waitFor("the event applied by each of the three handlers", async () => (await sql`select count(*)::int as n from ${sql(table)}`)[0]!.n === 3, {
    timeoutMs: 30_000,
  });

  ferry.proc.kill("SIGTERM");
  expect(await ferry.exited).toBe(0);
}, 60_000);

test("FERRY_HANDLER_GATE=not-ready: a file that cannot be loaded at start is left out and named on /readyz; the others run; its fixed version is picked up", async () => {
  const { topic, table, dir } = await handlersWithGood("import-gate");
  const broken = path.join(dir, "broken.ts");
  writeFileSync(broken, `import "not-installed-anywhere";\n${effectsHandler({ topic, table })}`);
  const ferry = startFerry(["run", "--handlers", dir, "--group-prefix", `import-${randomUUID().slice(0, 8)}`], { FERRY_HANDLER_GATE: "not-ready" });
  suite.track({ cleanup: () => ferry.proc.exitCode === null && ferry.proc.kill("SIGKILL") });
  const problem = `importing it failed: Cannot find package 'not-installed-anywhere' imported from ${broken} (a handler imports "ferry", "ferry/pg-core", "ferry/drizzle", its own relative files, and packages installed in a node_modules directory beside the handlers)`;
  expect(await ferry.waitForLog("handlers:rejected")).toMatchObject({ file: broken, problems: [problem], running: "nothing runs from this file" });
  const { port } = (await ferry.waitForLog("http:listening")) as { port: number };
  const readiness = async () => (await (await fetch(`http://127.0.0.1:${port}/readyz`)).json()) as { ok: boolean; reasons: string[] };
  const reason = `handler file ${broken} was rejected (nothing runs from it): ${problem}; fix the file and save it again`;
  await waitFor("/readyz naming the file only", async () => JSON.stringify((await readiness()).reasons) === JSON.stringify([reason]), { timeoutMs: 30_000 });

  await suite.kafka().send([{ topic, key: "k", value: JSON.stringify({ n: 1, key: "k", seq: 1 }), headers: { "event-id": `${topic}-1` } }]);
  await waitFor("the good handler applying", async () => (await sql`select count(*)::int as n from ${sql(table)}`)[0]!.n === 1, { timeoutMs: 30_000 });

  writeFileSync(broken, effectsHandler({ topic, table }));
  await waitFor("the fixed file added", () => ferry.logs.some((l) => l.msg === "handler:added" && l.file === broken));
  await waitFor("ready", async () => (await readiness()).ok, { timeoutMs: 30_000 });
  await waitFor("the fixed handler applying the event too", async () => (await sql`select count(*)::int as n from ${sql(table)}`)[0]!.n === 2, {
    timeoutMs: 30_000,
  });
  ferry.proc.kill("SIGTERM");
  expect(await ferry.exited).toBe(0);
}, 60_000);
