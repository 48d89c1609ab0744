/**
 * The shipped artifact: dist/ferry needs glibc, libstdc++ and libgcc_s and nothing else, which is
 * why the image's root file system can be the binary plus those (scripts/container-rootfs.sh reads
 * the same ldd output). tests/e2e/container.test.ts builds and runs the image itself.
 */
import { describe, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, readFileSync, realpathSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { ferryBinary, runFerry } from "../support/ferry-process.ts";

const containerfile = readFileSync(path.resolve(import.meta.dir, "../../Containerfile"), "utf8");
const runtimeStage = containerfile.slice(containerfile.lastIndexOf("\nFROM "));

function sharedLibraryPackages(file: string): Set<string> {
  const ldd = Bun.spawnSync(["ldd", file]).stdout.toString();
  expect(ldd).not.toContain("not found");
  const packages = new Set<string>();
  for (const line of ldd.split("\n")) {
    const resolved = line.match(/=>\s+(\S+)\s+\(/)?.[1];
    if (!resolved) continue;
    const owner = Bun.spawnSync(["dpkg", "-S", realpathSync(resolved)]).stdout.toString() || Bun.spawnSync(["dpkg", "-S", resolved]).stdout.toString();
    packages.add(owner.split(":")[0]!.trim());
  }
  return packages;
}

describe("the shipped artifact", () => {
  test("the binary and its extracted Kafka addon need only glibc, libstdc++ and libgcc_s", async () => {
    const tmp = mkdtempSync(path.join(tmpdir(), "ferry-tmpdir-"));
    // `run --help` loads the worker's modules, and with them the addon; `--version` no longer does.
    const { code } = await runFerry(["run", "--help"], { TMPDIR: tmp });
    expect(code).toBe(0);
    const addons = readdirSync(tmp).filter((f) => f.endsWith(".node"));
    expect(addons).toHaveLength(1);
    const needed = new Set([...sharedLibraryPackages(ferryBinary), ...sharedLibraryPackages(path.join(tmp, addons[0]!))]);
    expect([...needed].sort()).toEqual(["libc6", "libgcc-s1", "libstdc++6"]);
  });

  test("the Containerfile builds a runtime stage from scratch: non-root, a health check, a handlers volume", () => {
    expect(containerfile).toMatch(/^FROM debian:bookworm-slim AS build$/m);
    expect(runtimeStage).toMatch(/^FROM scratch\nCOPY --from=build \/rootfs \/$/m);
    expect(runtimeStage).toMatch(/^USER 10001:10001$/m);
    expect(runtimeStage).toContain('HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 CMD ["ferry", "healthcheck"]');
    expect(runtimeStage).toContain('VOLUME ["/handlers"]');
    expect(runtimeStage).toContain("TMPDIR=/tmp");
    expect(runtimeStage).not.toContain("extra-ca");
  });
});
