import { randomUUID } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { KafkaConnection } from "../../runtime/kafka/confluent.ts";
import type { TopologyAdmin } from "../../runtime/topology/admin.ts";
import { applyPlan, waitUntilApplied } from "../../runtime/topology/apply.ts";
import { loadDesired } from "../../runtime/topology/load-desired.ts";
import type { Plan } from "../../runtime/topology/model.ts";
import { planTopology } from "../../runtime/topology/plan.ts";
import { createPlatformaticAdmin } from "../../runtime/topology/platformatic-admin.ts";
import { readActual } from "../../runtime/topology/read-actual.ts";
import { testServices } from "./env.ts";

/** A SASL connection to the ACL-enforcing listeners as one of the cluster's users (services/README.md). */
export function saslConnection(user: "admin" | "alice" | "bob" | "carol"): KafkaConnection {
  const brokers = testServices().saslBrokers;
  if (!brokers) throw new Error("FERRY_TEST_KAFKA_SASL_BROKERS is not set: start the services with services/up.sh");
  return {
    brokers: brokers.split(","),
    clientId: `ferry-test-${user}`,
    securityProtocol: "sasl_plaintext",
    sasl: { mechanism: "PLAIN", username: user, password: `${user}-secret` },
  };
}

/**
 * One test's topology on the shared cluster: its own topic prefix, and a scope narrowed to it
 * (`aclResourcePrefixes`) so the ACLs it manages for the shared users never touch another test's.
 * `cleanup()` applies an empty topology over the same scope: it deletes the topics and ACLs.
 */
export function testTopology(principals: string[] = ["User:alice"]) {
  const prefix = `topo-${randomUUID().slice(0, 8)}`;
  const dir = mkdtempSync(path.join(tmpdir(), "ferry-topology-"));
  const admin: TopologyAdmin = createPlatformaticAdmin(saslConnection("admin"));
  const scope = `scope:\n  topicPrefixes: [${prefix}.]\n  aclResourcePrefixes: [${prefix}.]\n  principals: [${principals.join(", ")}]\n`;
  let n = 0;

  const write = (yaml: string) => {
    const file = path.join(dir, `topology-${++n}.yaml`);
    writeFileSync(file, scope + yaml);
    return file;
  };
  const run = { groupPrefix: prefix, deadLetterSuffix: ".dlt" };

  const self = {
    prefix,
    admin,
    /** Writes `yaml` (after the scope lines) to a file and returns its path. */
    write,
    async plan(yaml: string, extra: { handlersDir?: string; service?: string } = {}): Promise<Plan> {
      const desired = await loadDesired({ files: [write(yaml)], ...run, ...extra });
      return planTopology(desired, await readActual(admin, desired), desired.scope);
    },
    async apply(yaml: string, { allowDelete = false, handlersDir }: { allowDelete?: boolean; handlersDir?: string } = {}) {
      const desired = await loadDesired({ files: [write(yaml)], ...run, ...(handlersDir ? { handlersDir } : {}) });
      const replan = async () => planTopology(desired, await readActual(admin, desired), desired.scope);
      const plan = await replan();
      await applyPlan(admin, plan, { allowDelete });
      await waitUntilApplied(replan);
      return plan;
    },
    async cleanup() {
      try {
        await self.apply("", { allowDelete: true });
      } finally {
        await admin.close();
      }
    },
  };
  return self;
}

/** Runs one of Kafka's own CLI tools (services/kafka.sh tool ...): how an operator changes things by hand. */
export async function kafkaTool(mainClass: string, args: string[]): Promise<string> {
  const tool = process.env.FERRY_TEST_KAFKA_TOOL;
  if (!tool) throw new Error("FERRY_TEST_KAFKA_TOOL is not set: source .services/env");
  const proc = Bun.spawn([...tool.split(" "), mainClass, ...args], { stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  if (code !== 0) throw new Error(`${mainClass} exited with ${code}: ${err || out}`);
  return out;
}

/** The YAML of the service most tests use: alice consumes `<p>.orders` with group `<p>.totals` and produces `<p>.totals`. */
export const aliceTotalsService = (p: string) => `
services:
  totals:
    principal: User:alice
    consumes: [${p}.orders]
    produces: [${p}.totals]
    groups: [${p}.totals]
`;
