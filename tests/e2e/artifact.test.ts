/**
 * The Containerfile's runtime stage ships dist/ferry alone plus a few Debian libraries. Containers
 * cannot run here, so this proves the same claim outside one: the binary and the native addon it
 * extracts need nothing beyond those packages, and the image is built the way the README says.
 */
import { describe, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, readFileSync, realpathSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { ferryBinary, runFerry } from "../support/ferry-process.ts";

const containerfile = readFileSync(path.resolve(import.meta.dir, "../../Containerfile"), "utf8");
const runtimeStage = containerfile.slice(containerfile.lastIndexOf("\nFROM "));
// Present in every Debian image (Essential / Priority: required): need not be installed.
const inBaseImage = new Set(["libc6", "libgcc-s1"]);

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
  test("the binary and its extracted Kafka addon need only the runtime stage's packages", async () => {
    const tmp = mkdtempSync(path.join(tmpdir(), "ferry-tmpdir-"));
    // `run --help` loads the worker's modules, and with them the addon; `--version` no longer does.
    const { code } = await runFerry(["run", "--help"], { TMPDIR: tmp });
    expect(code).toBe(0);
    const addons = readdirSync(tmp).filter((f) => f.endsWith(".node"));
    expect(addons).toHaveLength(1);
    const needed = new Set([...sharedLibraryPackages(ferryBinary), ...sharedLibraryPackages(path.join(tmp, addons[0]!))]);
    expect(needed.size).toBeGreaterThan(0);
    for (const pkg of needed) {
      if (!inBaseImage.has(pkg)) expect(runtimeStage).toContain(pkg);
    }
  });

  test("the Containerfile is multi-stage, non-root, with a health check and a handlers volume", () => {
    expect(containerfile.match(/^FROM /gm)).toHaveLength(2);
    expect(runtimeStage).toContain("COPY --from=build /src/dist/ferry /usr/local/bin/ferry");
    expect(runtimeStage).toMatch(/^USER ferry$/m);
    expect(runtimeStage).toContain("HEALTHCHECK");
    expect(runtimeStage).toContain('CMD ["ferry", "healthcheck"]');
    expect(runtimeStage).toContain('VOLUME ["/handlers"]');
    expect(runtimeStage).toContain("TMPDIR=/tmp");
  });
});
