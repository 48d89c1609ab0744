// `ferry new handler` through the compiled binary, in a project laid out like this repository and
// without node_modules: the files it writes, a running `ferry dev` picking the handler and its
// schema up without a restart, and both scaffolded tests passing under `ferry test` as generated.
import { afterEach, expect, test } from "bun:test";
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { ferryBinary } from "../support/ferry-process.ts";
import { startDevProcess, type DevProcess } from "../support/dev-process.ts";

const root = path.resolve(import.meta.dir, "../..");
let project: string | undefined;
let dev: DevProcess | undefined;
afterEach(() => {
  dev?.cleanup();
  if (project) rmSync(project, { recursive: true, force: true });
});

function newProject(): string {
  const dir = mkdtempSync(path.join(tmpdir(), "ferry-new-"));
  for (const part of ["handlers", "schemas"]) cpSync(path.join(root, part), path.join(dir, part), { recursive: true });
  return dir;
}

const run = (args: string[], cwd: string, env: Record<string, string> = {}) => {
  const r = Bun.spawnSync(args, { cwd, env: { PATH: process.env.PATH!, HOME: process.env.HOME ?? "/root", TMPDIR: process.env.TMPDIR ?? "/tmp", ...env } });
  return { code: r.exitCode, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
};

test("scaffolds next to the example, a running ferry dev picks it up, and its own test passes", async () => {
  project = newProject();
  dev = startDevProcess([ferryBinary, "dev"], { cwd: project });
  await dev.waitFor("dev:ready", (l) => l.event === "dev:ready");

  const created = run([ferryBinary, "new", "handler", "invoice-totals", "--topic", "invoices", "--event", "InvoiceIssued", "--json"], project);
  expect(created.code).toBe(0);
  const files = JSON.parse(created.stdout) as { created: string[]; updated: string[] };
  expect(files.created.map((f) => path.relative(project!, path.resolve(project!, f))).sort()).toEqual([
    "handlers/invoice-totals.dev.test.ts",
    "handlers/invoice-totals.test.ts",
    "handlers/invoice-totals.ts",
    "handlers/migrations/0003_invoice_totals.sql",
    "schemas/invoice-issued.avdl",
    "schemas/invoice-issued.avsc",
    "schemas/invoice-issued.ts",
  ]);
  expect(JSON.parse(readFileSync(path.join(project, "schemas/topics.json"), "utf8"))).toEqual({ orders: "order-placed.avsc", invoices: "invoice-issued.avsc" });
  // The generated schema and types are what `ferry schemas build --check` and `codegen --check` expect.
  expect(run([ferryBinary, "schemas", "build", "--check"], project).code).toBe(0);
  expect(run([ferryBinary, "schemas", "codegen", "--check"], project).code).toBe(0);

  // No restart: the registry takes the new schema and the engine the new handler.
  await dev.waitFor("the schema registered", (l) => l.event === "dev:schemas-registered" && JSON.stringify(l.subjects).includes("invoices-value"), 30_000);
  await dev.waitFor("the handler added", (l) => l.event === "dev:handler-added" && l.handler === "invoice-totals", 30_000);
  expect(await dev.stop()).toBe(0);

  // The scaffolded cases, as generated, on ferry/testing (PGlite: no database given), with an empty
  // cache: the harness starts from the snapshot the binary carries, byte for byte, not from an initdb of its own.
  const cache = path.join(project, ".ferry-test-cache");
  const started = performance.now();
  const cases = run([ferryBinary, "test", "handlers/invoice-totals.test.ts"], project, { FERRY_TEST_CACHE_DIR: cache });
  console.log(`ferry test handlers/invoice-totals.test.ts: ${Math.round(performance.now() - started)} ms`);
  expect(`${cases.stdout}${cases.stderr}`).toContain("5 pass");
  expect(cases.code).toBe(0);
  const snapshots = readdirSync(cache).filter((f) => f.endsWith(".tar"));
  expect(snapshots).toHaveLength(1);
  if (!process.env.FERRY_TEST_BINARY) {
    const carried = Bun.gunzipSync(readFileSync(path.join(root, "dist/testing/pglite-snapshot.tar.gz")));
    expect(Buffer.compare(readFileSync(path.join(cache, snapshots[0]!)), carried)).toBe(0);
  }
  // The wiring, as generated, on ferry dev.
  const wiring = run([ferryBinary, "test", "handlers/invoice-totals.dev.test.ts"], project, { FERRY_BIN: ferryBinary });
  expect(`${wiring.stdout}${wiring.stderr}`).toContain("1 pass");
  expect(wiring.code).toBe(0);
}, 300_000);

test("refuses to overwrite, and says what to do", () => {
  project = newProject();
  const again = run([ferryBinary, "new", "handler", "order-totals", "--topic", "payments"], project);
  expect(again.code).toBe(2);
  expect(again.stderr).toContain("already exist");
  const bound = run([ferryBinary, "new", "handler", "order-audit", "--topic", "orders"], project);
  expect(bound.code).toBe(2);
  expect(bound.stderr).toContain("topic orders is already bound");
  const badName = run([ferryBinary, "new", "handler", "Order_Audit"], project);
  expect(badName.code).toBe(2);
  expect(badName.stderr).toContain("must be kebab-case");
  expect(existsSync(path.join(project, "handlers/order-audit.ts"))).toBe(false);
});
