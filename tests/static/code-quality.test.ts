/**
 * The code's own hygiene, as part of the suite: the types check (tsc), and the tree is formatted
 * and lint-clean (Biome, configured in biome.json). Fix with `bun run format` and `bun run lint`.
 */
import { expect, test } from "bun:test";
import path from "node:path";

const root = path.resolve(import.meta.dir, "../..");
const bin = (name: string) => path.join(root, "node_modules/.bin", name);

async function run(cmd: string[]): Promise<{ code: number; output: string }> {
  const proc = Bun.spawn(cmd, { cwd: root, stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { code, output: `${out}${err}`.trim() };
}

test("the TypeScript sources type-check (tsc --noEmit)", async () => {
  const { code, output } = await run([bin("tsc"), "--noEmit", "-p", "."]);
  if (code !== 0) console.error(output.split("\n").slice(0, 60).join("\n"));
  expect(code).toBe(0);
}, 180_000);

test("the tree is formatted and lint-clean (biome check)", async () => {
  const { code, output } = await run([bin("biome"), "check", "--error-on-warnings", "--max-diagnostics=50", "."]);
  if (code !== 0) console.error(output.split("\n").slice(-120).join("\n"));
  expect(code).toBe(0);
}, 60_000);
