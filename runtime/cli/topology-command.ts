import { loadTopologyConfig, type TopologyConfig } from "../config/load.ts";
import { ConfigError, FerryError } from "../errors.ts";
import type { TopologyAdmin } from "../topology/admin.ts";
import { applyPlan, refusalsOf, waitUntilApplied } from "../topology/apply.ts";
import { loadDesired } from "../topology/load-desired.ts";
import type { DesiredState, Plan } from "../topology/model.ts";
import { planTopology } from "../topology/plan.ts";
import { createPlatformaticAdmin } from "../topology/platformatic-admin.ts";
import { readActual } from "../topology/read-actual.ts";
import { describeChange, planJson, renderPlan, summarise } from "../topology/render.ts";
import { parseFlags, type FlagMap } from "./flags.ts";
import { UsageError } from "./usage-error.ts";
import { topologyUsage } from "./usage.ts";

const topologyFlags: FlagMap = {
  file: { env: "FERRY_TOPOLOGY_FILE", short: "f" },
  handlers: { env: "FERRY_HANDLERS_DIR" },
  service: { env: "FERRY_TOPOLOGY_SERVICE" },
  brokers: { env: "FERRY_KAFKA_BROKERS" },
  "group-prefix": { env: "FERRY_GROUP_PREFIX" },
  json: { env: "FERRY_TOPOLOGY_FORMAT", value: "json" },
  "allow-delete": { env: "FERRY_TOPOLOGY_ALLOW_DELETE", value: "true" },
};

/**
 * `ferry topology plan|apply`. Exit codes follow `terraform plan -detailed-exitcode`, so CI can
 * tell them apart: plan 0 = no change, 2 = changes to apply; 1 = anything else (bad file, bad
 * flags, refused change, cluster unreachable) for both plan and apply.
 */
export async function topologyCommand(args: string[], env: Record<string, string | undefined>): Promise<number> {
  const [action, ...rest] = args;
  if (action === undefined || action === "-h" || action === "--help" || action === "help") {
    console.log(topologyUsage);
    return action === undefined ? 1 : 0;
  }
  try {
    if (action !== "plan" && action !== "apply") throw new UsageError(`unknown topology command '${action}'; use plan or apply`, "topology");
    const { settings, help } = parseFlags(`topology ${action}`, rest, topologyFlags, env);
    if (help) {
      console.log(topologyUsage);
      return 0;
    }
    const config = loadTopologyConfig(settings);
    const desired = await loadDesired({ ...config, ...(config.handlersDir ? { handlersDir: config.handlersDir } : {}) });
    const admin = createPlatformaticAdmin(config.kafka);
    try {
      return action === "plan" ? await plan(admin, desired, config) : await apply(admin, desired, config);
    } finally {
      await admin.close().catch(() => undefined);
    }
  } catch (e) {
    // Exit code 2 means "changes" here, so a bad command line or file must not exit 2 as elsewhere.
    if (e instanceof UsageError) throw new FerryError(`${e.message}\nRun 'ferry topology --help' for usage.`);
    if (e instanceof ConfigError) throw new FerryError(e.message, { cause: e });
    throw e;
  }
}

async function plan(admin: TopologyAdmin, desired: DesiredState, config: TopologyConfig): Promise<number> {
  const result = planTopology(desired, await readActual(admin, desired), desired.scope);
  console.log(config.format === "json" ? planJson(result, desired.scope) : renderPlan(result, desired.scope, config));
  if (result.refusals.length > 0) return 1;
  return result.changes.length > 0 ? 2 : 0;
}

async function apply(admin: TopologyAdmin, desired: DesiredState, config: TopologyConfig): Promise<number> {
  const replan = async (): Promise<Plan> => planTopology(desired, await readActual(admin, desired), desired.scope);
  const result = await replan();
  const json = config.format === "json";
  if (!json) console.log(renderPlan(result, desired.scope, config));
  if (result.changes.length === 0 && result.refusals.length === 0) {
    if (json) console.log(JSON.stringify({ applied: [] }));
    return 0;
  }
  if (!json && refusalsOf(result, config).length === 0) console.log("\nApplying:");
  const started = performance.now();
  await applyPlan(admin, result, {
    allowDelete: config.allowDelete,
    onEvent: (event) => {
      if (json) return;
      if (event.type === "step:started") {
        process.stdout.write(`  [${event.index + 1}/${event.total}] ${describeChange(event.change, { allowDelete: true })} … `);
      } else console.log(`done (${event.ms} ms)`);
    },
  });
  if (!json) process.stdout.write("  waiting for every broker to show the changes … ");
  await waitUntilApplied(replan);
  const ms = Math.round(performance.now() - started);
  if (json) console.log(JSON.stringify({ applied: result.changes, warnings: result.warnings, ms }, null, 2));
  else console.log(`done\n\nApplied in ${ms} ms. ${summarise(result).replace(/^Plan: /, "Was: ")}`);
  return 0;
}
