import { describe, expect, test } from "bun:test";
import { copyFileSync, mkdtempSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { ferryBinary, runFerry } from "../support/ferry-process.ts";

describe("ferry command line (compiled binary)", () => {
  test("--help lists the commands and exit codes", async () => {
    const { code, output } = await runFerry(["--help"]);
    expect(code).toBe(0);
    expect(output).toContain("Usage: ferry <command>");
    expect(output).toContain("run");
    expect(output).toContain("migrate");
    expect(output).toContain("Exit codes");
  });

  test("--version prints the version, the commit the binary was built from and its Bun", async () => {
    const { code, output } = await runFerry(["--version"]);
    expect(code).toBe(0);
    expect(output.trim()).toMatch(/^ferry \d+\.\d+\.\d+ \(commit [0-9a-f]{12}(-dirty)?, bun \d+\.\d+\.\d+\)$/);
  });

  test("each command has help with an example and its exit codes", async () => {
    for (const command of ["dev", "new", "run", "migrate", "healthcheck", "dlt", "topology", "schemas", "produce"]) {
      const { code, output } = await runFerry([command, "--help"]);
      expect(code).toBe(0);
      expect(output).toContain(`Usage: ferry ${command}`);
      expect(output).toContain("Example");
      expect(output).toMatch(/Exit (codes|0)/);
    }
  }, 60_000);

  test.each([
    [["frobnicate"], "unknown command 'frobnicate'"],
    [["--frobnicate"], "unknown option '--frobnicate'"],
    [["run", "--handler", "x"], "Unknown option '--handler'"],
    [["run", "stray"], "Unexpected argument 'stray'"],
  ])("%p is refused with exit 2", async (args, message) => {
    const { code, output } = await runFerry(args);
    expect(code).toBe(2);
    expect(output).toContain(message);
    expect(output).toContain("--help");
  });

  test("a bad configuration value names the variable and what is expected, exit 2", async () => {
    const { code, output } = await runFerry(["run", "--handlers", "."], { FERRY_BATCH_SIZE: "many", FERRY_KAFKA_BROKERS: "nohostport" });
    expect(code).toBe(2);
    expect(output).toContain('FERRY_BATCH_SIZE must be a whole number between 1 and 10000 (got "many")');
    expect(output).toContain("FERRY_KAFKA_BROKERS entries must look like host:port");
  });

  test("runs when copied alone into an empty directory", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "ferry-alone-"));
    const copy = path.join(dir, "ferry");
    copyFileSync(ferryBinary, copy);
    const { code, output } = await runFerry(["--version"], {}, { binary: copy, cwd: dir });
    expect(code).toBe(0);
    expect(output).toContain("ferry ");
    // The native Kafka addon loads from inside the binary: a config error (not a load error) proves it started.
    const run = await runFerry(["run", "--handlers", dir], { FERRY_BATCH_SIZE: "0" }, { binary: copy, cwd: dir });
    expect(run.code).toBe(2);
    expect(run.output).toContain("FERRY_BATCH_SIZE must be at least 1");
    expect(readdirSync(dir)).toEqual(["ferry"]);
  });
});
