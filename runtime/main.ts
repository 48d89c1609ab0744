#!/usr/bin/env bun
/**
 * ferry: the command line. Reads as: parse the command → run it → map errors to exit codes.
 * 0 success · 1 runtime failure · 2 bad command line or configuration.
 */
import { devCommand } from "./cli/dev-command.ts";
import { dltCommand } from "./cli/dlt-command.ts";
import { healthcheckCommand } from "./cli/healthcheck-command.ts";
import { migrateCommand } from "./cli/migrate-command.ts";
import { newCommand } from "./cli/new-command.ts";
import { produceCommand } from "./cli/produce-command.ts";
import { runCommand } from "./cli/run-command.ts";
import { schemasCommand } from "./cli/schemas-command.ts";
import { topologyCommand } from "./cli/topology-command.ts";
import { UsageError } from "./cli/usage-error.ts";
import { mainUsage, version } from "./cli/usage.ts";
import { ConfigError, FerryError, HandlerLoadError, SchemaError } from "./errors.ts";

type Command = (args: string[], env: Record<string, string | undefined>) => Promise<number>;

const commands: Record<string, Command> = {
  dev: devCommand,
  new: newCommand,
  run: runCommand,
  migrate: migrateCommand,
  healthcheck: healthcheckCommand,
  dlt: dltCommand,
  topology: topologyCommand,
  schemas: schemasCommand,
  produce: produceCommand,
};

export async function main(argv: string[], env: Record<string, string | undefined>): Promise<number> {
  const [first, ...rest] = argv;
  if (first === undefined || first === "-h" || first === "--help" || first === "help") {
    console.log(mainUsage);
    return first === undefined ? 2 : 0;
  }
  if (first === "-v" || first === "--version" || first === "version") {
    console.log(`ferry ${version}`);
    return 0;
  }
  const command = commands[first];
  try {
    if (!command) {
      throw new UsageError(
        first.startsWith("-") ? `unknown option '${first}'` : `unknown command '${first}'; commands: ${Object.keys(commands).join(", ")}`,
      );
    }
    return await command(rest, env);
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
  process.exit(await main(process.argv.slice(2), process.env));
}
