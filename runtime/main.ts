#!/usr/bin/env bun
/**
 * ferry: the command line. Reads as: parse the command → run it → map errors to exit codes.
 * 0 success · 1 runtime failure · 2 bad command line or configuration.
 */
import { listenForStopSignals, type StopSignals } from "./cli/signals.ts";
import { UsageError } from "./cli/usage-error.ts";
import { mainUsage, version } from "./cli/usage.ts";
import { buildCommit } from "./build-info.ts";
import { ConfigError, FerryError, HandlerLoadError, SchemaError } from "./errors.ts";

type Command = (args: string[], env: Record<string, string | undefined>, stop?: StopSignals) => Promise<number>;

/**
 * Each command's modules load only when it runs. Loaded up front they kept the binary from reaching
 * main() for ~0.2 s (most of it the topology admin client), and until `run` and `dev` listen for
 * SIGTERM, a signal is the default kill (exit 143).
 */
const commands: Record<string, () => Promise<Command>> = {
  dev: async () => (await import("./cli/dev-command.ts")).devCommand,
  new: async () => (await import("./cli/new-command.ts")).newCommand,
  run: async () => (await import("./cli/run-command.ts")).runCommand,
  migrate: async () => (await import("./cli/migrate-command.ts")).migrateCommand,
  healthcheck: async () => (await import("./cli/healthcheck-command.ts")).healthcheckCommand,
  dlt: async () => (await import("./cli/dlt-command.ts")).dltCommand,
  topology: async () => (await import("./cli/topology-command.ts")).topologyCommand,
  schemas: async () => (await import("./cli/schemas-command.ts")).schemasCommand,
  produce: async () => (await import("./cli/produce-command.ts")).produceCommand,
  test: async () => (await import("./cli/test-command.ts")).testCommand,
};

/** The commands that run a worker: a signal during their start-up aborts it (exit 0). */
const workerCommands = new Set(["run", "dev"]);

export async function main(argv: string[], env: Record<string, string | undefined>): Promise<number> {
  const [first, ...rest] = argv;
  if (first === undefined || first === "-h" || first === "--help" || first === "help") {
    console.log(mainUsage);
    return first === undefined ? 2 : 0;
  }
  if (first === "-v" || first === "--version" || first === "version") {
    console.log(`ferry ${version} (commit ${buildCommit}, bun ${Bun.version})`);
    return 0;
  }
  // First, before the command's modules load: from here on a stop signal is theirs to handle.
  const stop = workerCommands.has(first) ? listenForStopSignals() : undefined;
  const load = commands[first];
  try {
    if (!load) {
      throw new UsageError(first.startsWith("-") ? `unknown option '${first}'` : `unknown command '${first}'; commands: ${Object.keys(commands).join(", ")}`);
    }
    const command = await load();
    return await command(rest, env, stop);
  } catch (e) {
    return report(e);
  }
}

function report(e: unknown): number {
  if (e instanceof UsageError) {
    console.error(`ferry: ${e.message}\nRun 'ferry ${e.command ? `${e.command} ` : ""}--help' for usage.`);
    return 2;
  }
  if (e instanceof ConfigError || e instanceof HandlerLoadError || e instanceof SchemaError) {
    console.error(`ferry: ${e.message}`);
    return 2;
  }
  if (e instanceof FerryError) {
    console.error(`ferry: ${e.message}`);
    return 1;
  }
  console.error(`ferry: unexpected failure: ${(e as Error)?.stack ?? String(e)}`);
  return 1;
}

if (import.meta.main) {
  const argv = process.argv.slice(2);
  // The production worker, before anything else runs: what the allocators read at start
  // (memory/allocator-env.ts). Not `ferry dev`: its process holds an embedded PostgreSQL and Kafka.
  if (argv[0] === "run") {
    // Loaded for `run` only: the decision reads the config's rule for FERRY_MEMORY_TARGET_MB.
    const [{ missingAllocatorEnv }, { restartWithEnv }] = await Promise.all([import("./memory/allocator-env.ts"), import("./memory/restart.ts")]);
    const { failed } = restartWithEnv(missingAllocatorEnv(process.env));
    if (failed) console.error(`ferry: running with the allocators' defaults (slower): could not restart with the worker's settings: ${failed}`);
  }
  process.exit(await main(argv, process.env));
}
