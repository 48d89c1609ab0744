import { describe, expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

const restartModule = path.resolve(import.meta.dir, "restart.ts");

/** A script that restarts itself once with FERRY_RESTARTED=yes, then prints what it runs with. */
function script(): string {
  const dir = mkdtempSync(path.join(tmpdir(), "ferry-restart-"));
  const file = path.join(dir, "restart-me.ts");
  writeFileSync(
    file,
    `import { restartWithEnv } from ${JSON.stringify(restartModule)};
const before = process.env.FERRY_RESTARTED;
const outcome = before ? {} : restartWithEnv({ FERRY_RESTARTED: "yes", FERRY_KEPT: "replaced" });
console.log(JSON.stringify({ pid: process.pid, outcome, restarted: process.env.FERRY_RESTARTED, kept: process.env.FERRY_KEPT, other: process.env.FERRY_OTHER, args: process.argv.slice(2) }));
`,
  );
  return file;
}

describe("restarting in place with more environment", () => {
  test.skipIf(process.platform !== "linux")("the same pid, the same arguments byte for byte, the environment plus the additions", async () => {
    const args = ["run", "--flag=a b", "", "ünïcode", "two\nlines"];
    const proc = Bun.spawn([process.execPath, script(), ...args], {
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", FERRY_OTHER: "untouched", FERRY_KEPT: "original" },
      stdout: "pipe",
      stderr: "pipe",
    });
    const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
    expect(err).toBe("");
    expect(code).toBe(0);
    // One line: the first image never printed, it was replaced.
    const lines = out.trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toEqual({ pid: proc.pid, outcome: {}, restarted: "yes", kept: "replaced", other: "untouched", args });
  });

  test("nothing to add: returns at once, no restart", async () => {
    const { restartWithEnv } = await import("./restart.ts");
    expect(restartWithEnv({})).toEqual({});
  });
});
