/**
 * `ferry schemas build|codegen|check|register`: the schema pipeline CI runs, over the schemas
 * directory. Exit codes: 0 success · 1 incompatible, refused, stale (--check) or registry
 * failure · 2 bad command line, configuration or schema file.
 */
import { loadSchemasConfig, type SchemasConfig } from "../config/load-tools.ts";
import { ConfigError } from "../errors.ts";
import { connectRegistry } from "../registry/connect.ts";
import { buildSchemas, codegenSchemas } from "../schemas/build.ts";
import { bindSubjects, loadSchemaFiles, loadTopics } from "../schemas/catalog.ts";
import { checkAgainstHistory, checkAgainstRegistry, type CheckResult } from "../schemas/check.ts";
import { registerSchema } from "../schemas/register.ts";
import { mergeBindings, publishedBindings } from "../schemas/published.ts";
import { loadHandlers } from "../handlers/load.ts";
import { renderCheck, renderGenerated, renderRegister } from "../schemas/render.ts";
import { parseFlags, type FlagMap } from "./flags.ts";
import { UsageError } from "./usage-error.ts";
import { schemasUsage } from "./usage.ts";

const common: FlagMap = { dir: { env: "FERRY_SCHEMAS_DIR" }, json: { env: "FERRY_SCHEMAS_FORMAT", value: "json" } };
const registry: FlagMap = { "registry-url": { env: "FERRY_SCHEMA_REGISTRY_URL" }, "subject-strategy": { env: "FERRY_SCHEMA_SUBJECT_STRATEGY" } };
const flagsBy: Record<string, FlagMap> = {
  build: { ...common, check: { env: "FERRY_SCHEMAS_CHECK_ONLY", value: "true" } },
  codegen: { ...common, check: { env: "FERRY_SCHEMAS_CHECK_ONLY", value: "true" } },
  check: {
    ...common,
    ...registry,
    handlers: { env: "FERRY_SCHEMAS_HANDLERS_DIR" },
    offline: { env: "FERRY_SCHEMAS_OFFLINE", value: "true" },
    level: { env: "FERRY_SCHEMA_COMPATIBILITY" },
  },
  register: { ...common, ...registry, handlers: { env: "FERRY_SCHEMAS_HANDLERS_DIR" }, "dry-run": { env: "FERRY_SCHEMAS_DRY_RUN", value: "true" } },
};

export async function schemasCommand(args: string[], env: Record<string, string | undefined>): Promise<number> {
  const [action, ...rest] = args;
  if (action === undefined || action === "-h" || action === "--help" || action === "help") {
    console.log(schemasUsage);
    return action === undefined ? 2 : 0;
  }
  const flags = flagsBy[action];
  if (!flags) throw new UsageError(`unknown schemas command '${action}'; use build, codegen, check or register`, "schemas");
  const { settings, help } = parseFlags(`schemas ${action}`, rest, flags, env);
  if (help) {
    console.log(schemasUsage);
    return 0;
  }
  const config = loadSchemasConfig(settings);
  const print = (json: unknown, text: string) => console.log(config.format === "json" ? JSON.stringify(json, null, 2) : text);
  switch (action) {
    case "build":
    case "codegen": {
      const files =
        action === "build" ? await buildSchemas(config.dir, { check: config.checkOnly }) : await codegenSchemas(config.dir, { check: config.checkOnly });
      print({ files }, renderGenerated(action, files, config.checkOnly));
      return files.some((f) => f.status === "stale") ? 1 : 0;
    }
    case "check": {
      const { results, unbound } = await check(config);
      print({ results, skipped: unbound.map((f) => f.name) }, renderCheck(results, unbound));
      return results.some((r) => r.status === "incompatible") ? 1 : 0;
    }
    default: {
      const { bindings, unbound } = await catalog(config);
      const client = connectRegistry(needRegistry(config, "register"));
      const results = [];
      for (const binding of bindings) results.push(await registerSchema(binding, client, { dryRun: config.dryRun }));
      print({ results, skipped: unbound.map((f) => f.name), dryRun: config.dryRun }, renderRegister(results, unbound, config.dryRun));
      return results.some((r) => r.status === "refused") ? 1 : 0;
    }
  }
}

async function catalog(config: SchemasConfig) {
  const files = await loadSchemaFiles(config.dir);
  const { bindings, unbound } = bindSubjects(files, await loadTopics(config.dir), config.strategy);
  if (!config.handlersDir) return { files, bindings, unbound };
  // What handlers publish with is registered and checked like what topics.json binds.
  const published = await publishedBindings(await loadHandlers(config.handlersDir), config.strategy);
  const covered = new Set(published.map((b) => b.schema.path));
  return { files, bindings: mergeBindings(bindings, published), unbound: unbound.filter((f) => !covered.has(f.path)) };
}

async function check(config: SchemasConfig): Promise<{ results: CheckResult[]; unbound: Awaited<ReturnType<typeof catalog>>["unbound"] }> {
  const { files, bindings, unbound } = await catalog(config);
  const results: CheckResult[] = [];
  if (config.offline) {
    // Offline, every file counts (history needs no subject); the subject is shown when known.
    for (const file of files) {
      const subject = bindings.find((b) => b.schema === file)?.subject;
      results.push(await checkAgainstHistory(config.dir, file, config.level, subject));
    }
    return { results, unbound: [] };
  }
  const client = connectRegistry(needRegistry(config, "check"));
  for (const binding of bindings) results.push(await checkAgainstRegistry(binding, client));
  return { results, unbound };
}

function needRegistry(config: SchemasConfig, action: string) {
  if (config.registry) return config.registry;
  const offline = action === "check" ? ", or pass --offline to check against schemas/history/" : "";
  throw new ConfigError([`ferry schemas ${action} needs the schema registry: pass --registry-url <url> or set FERRY_SCHEMA_REGISTRY_URL${offline}`]);
}
