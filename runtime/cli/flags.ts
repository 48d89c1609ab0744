import { parseArgs } from "node:util";
import { UsageError } from "./usage-error.ts";

/**
 * A flag and the environment variable it sets: flags win over the environment. A flag with a
 * fixed `value` takes no argument (`--json`) and sets its variable to that value.
 */
export type FlagMap = Record<string, { env: string; short?: string; value?: string }>;

/**
 * Parses a subcommand's flags strictly (unknown flags, and stray arguments unless `positionals`,
 * are errors) and returns the environment-style settings they imply, merged over `env`.
 */
export function parseFlags(
  command: string,
  args: string[],
  flags: FlagMap,
  env: Record<string, string | undefined>,
  { positionals: allowPositionals = false }: { positionals?: boolean } = {},
): { settings: Record<string, string | undefined>; help: boolean; positionals: string[] } {
  const options: Record<string, { type: "string" | "boolean"; short?: string }> = { help: { type: "boolean", short: "h" } };
  for (const [name, spec] of Object.entries(flags)) {
    options[name] = { type: spec.value === undefined ? "string" : "boolean", ...(spec.short ? { short: spec.short } : {}) };
  }
  let values: Record<string, string | boolean | undefined>;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({ args, options, strict: true, allowPositionals }));
  } catch (e) {
    throw new UsageError(`${(e as Error).message.replace(/\. To specify a positional argument.*$/, "")}`, command);
  }
  const settings = { ...env };
  for (const [name, spec] of Object.entries(flags)) {
    const value = values[name];
    if (typeof value === "string") settings[spec.env] = value;
    else if (value === true && spec.value !== undefined) settings[spec.env] = spec.value;
  }
  return { settings, help: values.help === true, positionals };
}
