// ferry dev's errors through the compiled binary: each says what to do, with the documented exit code.
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { ferryBinary } from "../support/ferry-process.ts";

const root = path.resolve(import.meta.dir, "../..");
const scratch = mkdtempSync(path.join(tmpdir(), "ferry-dev-errors-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const run = (args: string[], cwd = root) => {
  const r = Bun.spawnSync([ferryBinary, ...args], { cwd, env: { PATH: process.env.PATH!, TMPDIR: process.env.TMPDIR ?? "/tmp" } });
  return { code: r.exitCode, stderr: r.stderr.toString() };
};

test("a missing handlers directory stops ferry dev before anything starts (exit 2)", () => {
  const { code, stderr } = run(["dev", "--data-dir", path.join(scratch, "a")], scratch);
  expect(code).toBe(2);
  expect(stderr).toContain("the handlers directory does not exist");
});

test("produce --demo without a running ferry dev says how to start one (exit 1)", () => {
  const { code, stderr } = run(["produce", "--demo", "--data-dir", path.join(scratch, "none")]);
  expect(code).toBe(1);
  expect(stderr).toContain("no ferry dev is running");
  expect(stderr).toContain("ferry dev --handlers ./handlers");
});

test("an HTTP port in use names the setting to change (exit 2)", async () => {
  const taken = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("taken") });
  try {
    const { code, stderr } = run(["dev", "--data-dir", path.join(scratch, "b"), "--http-port", String(taken.port)]);
    expect(stderr).toContain(`FERRY_HTTP_PORT=${taken.port} is already in use`);
    expect(code).toBe(2);
  } finally {
    taken.stop(true);
  }
}, 120_000);
