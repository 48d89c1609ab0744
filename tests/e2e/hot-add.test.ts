import { afterAll, expect, test } from "bun:test";
import { randomUUID } from "node:crypto";
import { lstatSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { ferryBinary, startFerry, type FerryProcess } from "../support/ferry-process.ts";
import { writeHandlersDir } from "../support/handlers.ts";
import { useScenarios } from "../support/suite.ts";
import { waitFor } from "../support/wait.ts";
import { writeConfigMapVolume } from "./configmap-volume.ts";

const suite = useScenarios();
const { sql } = suite;
let ferry: FerryProcess | undefined;
afterAll(() => {
  if (ferry?.proc.exitCode === null) ferry.proc.kill("SIGKILL");
});

/** A handler that records which of its versions applied each event (no unique constraint: a double apply shows). */
const versioned = (topic: string, table: string, version: number) => `import { defineHandler } from "ferry";
export default defineHandler<{ n: number }>({
  topic: ${JSON.stringify(topic)},
  async handle(p, ctx) {
    await ctx.sql\`insert into ${table} (event_id, n, version) values (\${ctx.event.id}, \${p.n}, ${version})\`;
  },
});
`;
const table = (name: string) => `create table ${name} (id bigserial primary key, event_id text not null, n int not null, version int not null);`;

/**
 * Starts the binary with `dir` read-only, as a container's volume is: a mount namespace of its own
 * with `dir` bind-mounted read-only over itself, while the test goes on writing it from outside.
 * Ferry writing anything there fails with EROFS.
 */
function startWithReadOnlyHandlers(dir: string, args: string[]): FerryProcess {
  const mountReadOnly = 'mount --bind -o ro "$0" "$0" && exec "$@"';
  return startFerry(["--mount", "sh", "-c", mountReadOnly, dir, ferryBinary, ...args], {}, { binary: "/usr/bin/unshare" });
}

/** Every entry under a directory, links not followed: what the test wrote and nothing else. */
const entries = (dir: string) =>
  readdirSync(dir, { recursive: true })
    .map(String)
    .sort()
    .map((e) => `${e}${lstatSync(path.join(dir, e)).isSymbolicLink() ? " (link)" : ""}`);

/** A continuous stream to `topic`: 20 events every 100 ms until stopped; `stop()` returns how many were sent. */
function startStream(kafka: ReturnType<typeof suite.kafka>, topic: string) {
  const total = { sent: 0 };
  let streaming = true;
  const done = (async () => {
    while (streaming) {
      const batch = Array.from({ length: 20 }, (_, i) => total.sent + i).map((n) => ({
        topic,
        key: `k${n % 7}`,
        value: JSON.stringify({ n }),
        headers: { "event-id": `${topic}-${n}` },
      }));
      await kafka.send(batch);
      total.sent += batch.length;
      await Bun.sleep(100);
    }
  })();
  return {
    sent: () => total.sent,
    async stop() {
      streaming = false;
      await done;
      return total.sent;
    },
  };
}

test("hot-add on a read-only directory during a continuous stream: add, change, reject broken files, remove; every event applied exactly once", async () => {
  const id = randomUUID().slice(0, 8);
  const kafka = suite.kafka();
  const topic = await kafka.createTopic("hot-add", 3);
  const [alpha, beta] = [`hot_alpha_${id}`, `hot_beta_${id}`];
  const dir = writeHandlersDir({ "alpha.ts": versioned(topic, alpha, 1) }, { [`0001_${alpha}.sql`]: table(alpha) });
  const write = (file: string, content: string) => writeFileSync(path.join(dir, file), content);
  const logged = (msg: string, file: string) => waitFor(`${msg} for ${file}`, () => ferry!.logs.some((l) => l.msg === msg && String(l.file).endsWith(file)));
  const count = async (t: string) =>
    (await sql<{ rows: number; ids: number }[]>`select count(*)::int as rows, count(distinct event_id)::int as ids from ${sql(t)}`)[0]!;

  ferry = startWithReadOnlyHandlers(dir, ["run", "--handlers", dir, "--group-prefix", `hot-${id}`]);
  await ferry.waitForLog("engine:running");

  const stream = startStream(kafka, topic);
  let sent = 0;
  try {
    await waitFor("alpha v1 applying", async () => (await count(alpha)).rows > 0);

    // New file: its migration first, then the handler. Loaded, validated, subscribed; no restart.
    mkdirSync(path.join(dir, "migrations"), { recursive: true });
    write(`migrations/0002_${beta}.sql`, table(beta));
    write("beta.ts", versioned(topic, beta, 1));
    await logged("handler:added", "beta.ts");
    await waitFor("beta applying", async () => (await count(beta)).rows > 0);

    // Editors' temp files are ignored; a broken new file is rejected; alpha and beta go on.
    write(".alpha.ts.swp", "not a module");
    write("alpha.ts~", "not a module");
    write("gamma.ts", "export default defineHandler({ topic: ");
    await logged("handlers:rejected", "gamma.ts");

    // A changed file drains alpha only, then the new version takes over.
    write("alpha.ts", versioned(topic, alpha, 2));
    await logged("handler:replaced", "alpha.ts");
    await waitFor("alpha v2 applying", async () => (await sql`select 1 from ${sql(alpha)} where version = 2 limit 1`).length > 0);

    // A broken change is rejected and the running version (v2) keeps applying.
    write("alpha.ts", versioned(topic, alpha, 3).replace("async handle", "async handle("));
    await waitFor(
      "the broken change rejected",
      () => ferry!.logs.filter((l) => l.msg === "handlers:rejected" && String(l.file).endsWith("alpha.ts")).length === 1,
    );
    const beforeBroken = (await count(alpha)).rows;
    await waitFor("alpha still applying after a rejected change", async () => (await count(alpha)).rows > beforeBroken + 20);

    // A removed file drains and unsubscribes.
    rmSync(path.join(dir, "beta.ts"));
    await logged("handler:removed", "beta.ts");
    await waitFor("at least 1000 events streamed", () => stream.sent() >= 1_000);
  } finally {
    sent = await stream.stop();
  }
  console.log(`hot-add: ${sent} events streamed across add, change, rejections and removal`);
  await waitFor(`alpha to apply all ${sent} events`, async () => (await count(alpha)).rows >= sent, { timeoutMs: 120_000, intervalMs: 250 });
  const betaAfterRemoval = await count(beta);
  await Bun.sleep(1_000); // a removed handler must apply nothing more
  expect(await count(beta)).toEqual(betaAfterRemoval);

  expect(await count(alpha)).toEqual({ rows: sent, ids: sent });
  expect(betaAfterRemoval.rows).toBe(betaAfterRemoval.ids);
  const versions = await sql<{ version: number; n: number }[]>`select version, count(*)::int as n from ${sql(alpha)} group by version order by version`;
  expect(versions.map((v) => v.version)).toEqual([1, 2]);
  const rejected = ferry.logs.filter((l) => l.msg === "handlers:rejected");
  expect(rejected.map((l) => path.basename(String(l.file))).sort()).toEqual(["alpha.ts", "gamma.ts"]);
  expect(rejected.find((l) => String(l.file).endsWith("alpha.ts"))).toMatchObject({ running: "the previous version keeps running" });
  expect(ferry.logs.filter((l) => l.msg === "handlers:change-detected" && /swp|~$/.test(String(l.file)))).toEqual([]);
  expect(ferry.output()).not.toContain('"level":"error","msg":"handlers:watch-failed"');
  expect(ferry.output()).not.toContain("EROFS");
  // Ferry wrote nothing into the directory: what is there is what the test wrote.
  expect(entries(dir)).toEqual(
    ["alpha.ts", "alpha.ts~", ".alpha.ts.swp", "gamma.ts", "migrations", `migrations/0001_${alpha}.sql`, `migrations/0002_${beta}.sql`].sort(),
  );

  ferry.proc.kill("SIGTERM");
  expect(await ferry.exited).toBe(0);
}, 240_000);

test("hot-add on a read-only ConfigMap volume: updates swap `..data`; add, change and remove apply every event exactly once", async () => {
  const id = randomUUID().slice(0, 8);
  const kafka = suite.kafka();
  const topic = await kafka.createTopic("hot-configmap", 3);
  const [alpha, beta] = [`cm_alpha_${id}`, `cm_beta_${id}`];
  const dir = path.join(mkdtempSync(path.join(tmpdir(), "ferry-configmap-")), "handlers");
  // One ConfigMap holds the handlers and, as items with a path, their migrations.
  const volume: Record<string, string> = { "alpha.ts": versioned(topic, alpha, 1), [`migrations/0001_${alpha}.sql`]: table(alpha) };
  writeConfigMapVolume(dir, volume);
  const countOf = (msg: string, file: string) => ferry!.logs.filter((l) => l.msg === msg && l.file === path.join(dir, file)).length;
  const count = async (t: string) =>
    (await sql<{ rows: number; ids: number }[]>`select count(*)::int as rows, count(distinct event_id)::int as ids from ${sql(t)}`)[0]!;

  ferry = startWithReadOnlyHandlers(path.dirname(dir), ["run", "--handlers", dir, "--group-prefix", `hot-cm-${id}`]);
  await ferry.waitForLog("engine:running");
  expect(ferry.logs.find((l) => l.msg === "handler:added")).toMatchObject({ handler: "alpha", file: path.join(dir, "alpha.ts") });

  const stream = startStream(kafka, topic);
  let sent = 0;
  try {
    await waitFor("alpha v1 applying", async () => (await count(alpha)).rows > 0);

    // Add: the migration and the handler arrive in one update, as one ConfigMap edit does.
    volume[`migrations/0002_${beta}.sql`] = table(beta);
    volume["beta.ts"] = versioned(topic, beta, 1);
    writeConfigMapVolume(dir, volume);
    await waitFor("beta added", () => countOf("handler:added", "beta.ts") === 1);
    await waitFor("beta applying", async () => (await count(beta)).rows > 0);

    // Change: `alpha.ts -> ..data/alpha.ts` stays as it is; only `..data` moves.
    volume["alpha.ts"] = versioned(topic, alpha, 2);
    writeConfigMapVolume(dir, volume);
    await waitFor("alpha replaced", () => countOf("handler:replaced", "alpha.ts") === 1);
    await waitFor("alpha v2 applying", async () => (await sql`select 1 from ${sql(alpha)} where version = 2 limit 1`).length > 0);

    // Remove.
    delete volume["beta.ts"];
    writeConfigMapVolume(dir, volume);
    await waitFor("beta removed", () => countOf("handler:removed", "beta.ts") === 1);
    await waitFor("at least 600 events streamed", () => stream.sent() >= 600);
  } finally {
    sent = await stream.stop();
  }
  console.log(`hot-add (ConfigMap): ${sent} events streamed across add, change and removal`);
  await waitFor(`alpha to apply all ${sent} events`, async () => (await count(alpha)).rows >= sent, { timeoutMs: 120_000, intervalMs: 250 });
  const betaAfterRemoval = await count(beta);
  await Bun.sleep(1_000); // a removed handler must apply nothing more
  expect(await count(beta)).toEqual(betaAfterRemoval);

  expect(await count(alpha)).toEqual({ rows: sent, ids: sent });
  expect(betaAfterRemoval.rows).toBe(betaAfterRemoval.ids);
  expect(betaAfterRemoval.rows).toBeGreaterThan(0);
  const versions = await sql<{ version: number }[]>`select distinct version from ${sql(alpha)} order by version`;
  expect(versions.map((v) => v.version)).toEqual([1, 2]);
  // Each update acted on exactly what changed: `..data`, `..2026_…` and `migrations` are not handlers.
  const acted = ferry.logs.filter((l) => ["handler:added", "handler:replaced", "handler:removed", "handlers:rejected"].includes(String(l.msg)));
  expect(acted.map((l) => `${l.msg} ${path.basename(String(l.file))}`)).toEqual([
    "handler:added alpha.ts",
    "handler:added beta.ts",
    "handler:replaced alpha.ts",
    "handler:removed beta.ts",
  ]);
  expect(ferry.output()).not.toContain("EROFS");
  expect(ferry.output()).not.toContain("handlers:watch-failed");

  ferry.proc.kill("SIGTERM");
  expect(await ferry.exited).toBe(0);
}, 240_000);
