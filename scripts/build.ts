// Builds dist/ferry: one executable with the Bun runtime, Ferry, its dependencies and the
// native Kafka addon embedded. Run by `bun run build`.
import path from "node:path";
import { existsSync } from "node:fs";
import { writeBuildSnapshot } from "../runtime/testing/build-snapshot.ts";

const root = path.resolve(import.meta.dir, "..");
const addon = path.join(root, "node_modules/@confluentinc/kafka-javascript/build/Release/confluent-kafka-javascript.node");
if (!existsSync(addon)) {
  console.error(`build: the Kafka addon is missing (${addon}); run scripts/bootstrap.sh first`);
  process.exit(1);
}

// The commit the binary is built from: ferry --version and ferry_build_info{commit} say it.
const git = Bun.spawnSync(["git", "rev-parse", "--short=12", "HEAD"], { cwd: root, stdout: "pipe", stderr: "ignore" });
const dirty = Bun.spawnSync(["git", "status", "--porcelain", "--untracked-files=no"], { cwd: root, stdout: "pipe", stderr: "ignore" });
const commit = git.success ? `${git.stdout.toString().trim()}${dirty.success && dirty.stdout.toString().trim() ? "-dirty" : ""}` : "unknown";

// ferry/testing first: `ferry test` hands this one file to `bun test` as its preload, and the
// binary carries it (runtime/testing/embedded-bundle.ts). PGlite's files are the binary's own.
const testing = await Bun.build({
  entrypoints: [path.join(root, "runtime/testing/preload.ts")],
  target: "bun",
  outdir: path.join(root, "dist/testing"),
  naming: { entry: "[name].bundle", asset: "[name].[ext]" },
  minify: { syntax: true, whitespace: true },
});
if (!testing.success) {
  for (const message of testing.logs) console.error(message);
  process.exit(1);
}

// The PGlite snapshot of Ferry's migrations, carried by the binary: even the first `ferry test` on a
// machine starts from it. Kept in dist/testing/snapshots: a rebuild with the same migrations reuses it.
const snapshotKey = await writeBuildSnapshot(path.join(root, "dist/testing/snapshots"), path.join(root, "dist/testing/pglite-snapshot.tar.gz"));

const result = await Bun.build({
  entrypoints: [path.join(root, "runtime/main.ts")],
  define: { FERRY_BUILD_COMMIT: JSON.stringify(commit), FERRY_TEST_SNAPSHOT_KEY: JSON.stringify(snapshotKey) },
  compile: { outfile: path.join(root, "dist/ferry") },
  // Precompiled bytecode: the binary reaches main() in ~0.06 s instead of ~0.19 s (every command,
  // the container's health check every 15 s, and the worker's in-place restart, memory/restart.ts).
  bytecode: true,
  format: "esm",
  minify: { syntax: true, whitespace: true },
  sourcemap: "linked",
  plugins: [
    {
      // The client finds its addon with the `bindings` package, which searches the file system
      // at run time. A static require of the .node file instead lets Bun embed it in the binary
      // (it is extracted to $TMPDIR when the binary starts).
      name: "static-kafka-addon",
      setup(build) {
        build.onResolve({ filter: /^bindings$/ }, () => ({ path: "bindings", namespace: "ferry-kafka-addon" }));
        build.onLoad({ filter: /.*/, namespace: "ferry-kafka-addon" }, () => ({
          contents: `module.exports = function () { return require(${JSON.stringify(addon)}); };`,
          loader: "js",
        }));
      },
    },
    {
      // @platformatic/kafka (the topology admin client) loads its WebAssembly helpers from a file
      // next to the module, which a compiled binary does not have; the package's `bundled` entry
      // carries the same module inline.
      name: "inline-wasm-utils",
      setup(build) {
        build.onResolve({ filter: /^@platformatic\/wasm-utils$/ }, () => ({
          path: Bun.resolveSync("@platformatic/wasm-utils/bundled", root),
        }));
      },
    },
  ],
});
if (!result.success) {
  for (const message of result.logs) console.error(message);
  process.exit(1);
}
console.log(`built ${path.relative(root, result.outputs[0]!.path)} (commit ${commit})`);
