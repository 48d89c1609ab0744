/**
 * `bun bench/testing.ts`: how fast `ferry test` runs a scaffolded handler's cases (issue 16).
 *
 *   cold      `dist/ferry test handlers/<h>.test.ts` in a new project, wall time per run: the first
 *             with an empty cache (bundle and the binary's PGlite snapshot extracted), then with it
 *   postgres  the same with FERRY_TEST_DATABASE_URL (a fresh database on the run's server)
 *   send      one `send` of five events (new, redelivery, functional duplicate, poison, permanent)
 *             after the first, on PGlite and on PostgreSQL: milliseconds each
 *
 * Needs dist/ferry (bun run build). Prints a results table and provenance to paste in the README.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { loadAverage } from "./lib/proc-stats.ts";
import { provenance, provenanceText } from "./lib/provenance.ts";
import { median, percentile } from "./lib/report.ts";

const { values: args } = parseArgs({ options: { runs: { type: "string", default: "3" }, sends: { type: "string", default: "20" } } });
const runs = Number(args.runs);
const ferry = path.resolve(import.meta.dir, "../dist/ferry");
const serverUrl = process.env.FERRY_TEST_DATABASE_URL;
const p = provenance();

const project = mkdtempSync(path.join(tmpdir(), "ferry-bench-testing-"));
const cache = path.join(project, ".cache");
const baseEnv = { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: process.env.HOME ?? "/root", TMPDIR: tmpdir(), FERRY_TEST_CACHE_DIR: cache };
const sh = (argv: string[], env: Record<string, string> = {}) => {
  const started = performance.now();
  const r = Bun.spawnSync(argv, { cwd: project, env: { ...baseEnv, ...env }, stdout: "pipe", stderr: "pipe" });
  const ms = performance.now() - started;
  const output = `${r.stdout}${r.stderr}`;
  if (r.exitCode !== 0) throw new Error(`${argv.join(" ")} exited with ${r.exitCode}:\n${output}`);
  return { ms, output };
};

try {
  sh([ferry, "new", "handler", "invoice-totals", "--topic", "invoices", "--event", "InvoiceIssued"]);
  const file = "handlers/invoice-totals.test.ts";
  const cold = Array.from({ length: runs }, () => sh([ferry, "test", file]).ms);
  const onServer = serverUrl ? Array.from({ length: runs }, () => sh([ferry, "test", file], { FERRY_TEST_DATABASE_URL: serverUrl }).ms) : [];

  // Five events per send, the scaffold's cases; each send after the first timed.
  writeFileSync(
    path.join(project, "handlers/send-speed.test.ts"),
    `import { test } from "bun:test";
import { createHarness } from "ferry/testing";
test("sends", async () => {
  const h = await createHarness(\`\${import.meta.dir}/invoice-totals.ts\`);
  const times = [];
  for (let i = 0; i <= ${Number(args.sends)}; i++) {
    const v = (id, amountCents = 100) => ({ id: \`\${id}-\${i}\`, amountCents, occurredAt: 0 });
    const started = performance.now();
    await h.send([
      { eventId: \`new-\${i}\`, value: v("a") },
      { eventId: \`new-\${i}\`, value: v("a") },
      { eventId: \`dup-\${i}\`, value: v("a") },
      { eventId: \`poison-\${i}\`, value: Buffer.from("poison") },
      { eventId: \`neg-\${i}\`, value: v("n", -1) },
    ]);
    if (i > 0) times.push(performance.now() - started);
  }
  await h.close();
  console.log("SEND_MS " + JSON.stringify(times));
}, 120000);
`,
  );
  const sendTimes = (env: Record<string, string> = {}) =>
    JSON.parse(/SEND_MS (.+)/.exec(sh([ferry, "test", "handlers/send-speed.test.ts"], env).output)![1]!) as number[];
  const pglite = sendTimes();
  const postgres = serverUrl ? sendTimes({ FERRY_TEST_DATABASE_URL: serverUrl }) : [];

  const ms = (x: number) => `${Math.round(x)} ms`;
  const p90 = (xs: number[]) => percentile(xs, 0.9);
  console.log(`| measure | PGlite (default) | PostgreSQL (FERRY_TEST_DATABASE_URL) |
| --- | --- | --- |
| \`ferry test ${file}\` (5 cases), first run, empty cache | ${ms(cold[0]!)} | |
| the same, next runs (median of ${runs - 1}) | ${ms(median(cold.slice(1)))} | ${onServer.length ? ms(median(onServer)) : "n/a"} |
| one \`send\` of 5 events after the first: median / p90 of ${pglite.length} | ${ms(median(pglite))} / ${ms(p90(pglite))} | ${postgres.length ? `${ms(median(postgres))} / ${ms(p90(postgres))}` : "n/a"} |
`);
  console.log(provenanceText(p, loadAverage()));
  console.log(
    `RESULT cold_first_ms=${Math.round(cold[0]!)} cold_ms=${Math.round(median(cold.slice(1)))} postgres_ms=${Math.round(median(onServer))} send_pglite_ms=${Math.round(median(pglite))} send_postgres_ms=${Math.round(median(postgres))}`,
  );
} finally {
  rmSync(project, { recursive: true, force: true });
}
