// `ferry topology plan|apply` through the compiled binary, on the README's example file, against
// the real cluster over SASL as admin. Names are made unique per run: topics `<prefix>.orders.*`,
// principals `User:<prefix>-*` (ACLs for a principal need no such user to exist).
import { afterAll, describe, expect, test } from "bun:test";
import { randomUUID } from "node:crypto";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { runFerry } from "../support/ferry-process.ts";
import { writeHandlersDir } from "../support/handlers.ts";
import { saslConnection } from "../support/topology.ts";

const p = `topo-e2e-${randomUUID().slice(0, 8)}`;
const dir = mkdtempSync(path.join(tmpdir(), "ferry-topology-e2e-"));
const example = readFileSync(path.resolve(import.meta.dir, "../../topology/orders.yaml"), "utf8")
  .replaceAll("orders.", `${p}.orders.`)
  .replaceAll("User:", `User:${p}-`);
const file = path.join(dir, "orders.yaml");
writeFileSync(file, example);
// The worker's handler, written the way users write one: it imports `ferry`, served by the binary.
const handlers = writeHandlersDir({
  "order-totals.ts": `import { defineHandler } from "ferry";
export default defineHandler({ topic: ${JSON.stringify(`${p}.orders.placed`)}, async handle() {} });
`,
});

const admin = saslConnection("admin");
const env = {
  FERRY_KAFKA_BROKERS: admin.brokers.join(","),
  FERRY_KAFKA_SECURITY_PROTOCOL: "sasl_plaintext",
  FERRY_KAFKA_SASL_USERNAME: admin.sasl!.username,
  FERRY_KAFKA_SASL_PASSWORD: admin.sasl!.password,
};
const ferry = (...args: string[]) => runFerry(["topology", ...args], env);
const withHandlers = ["--handlers", handlers, "--service", "order-totals"];

afterAll(async () => {
  // An empty topology over the same scope deletes what the tests made.
  const empty = path.join(dir, "empty.yaml");
  const principals = ["order-totals", "order-audit", "reporting"].map((n) => `User:${p}-${n}`).join(", ");
  writeFileSync(empty, `scope:\n  topicPrefixes: [${p}.orders.]\n  principals: [${principals}]\n`);
  const { code, output } = await ferry("apply", "--file", empty, "--allow-delete");
  expect({ code, output }).toMatchObject({ code: 0 });
});

describe("ferry topology (compiled binary)", () => {
  test("plan exits 2 and shows the changes, including what the handlers need", async () => {
    const { code, output } = await ferry("plan", "--file", file, ...withHandlers);
    expect(code).toBe(2);
    expect(output).toContain(`+ create topic ${p}.orders.totals: 6 partitions, replication factor 3, cleanup.policy=compact`);
    expect(output).toContain(`+ create topic ${p}.orders.placed.dlt: 3 partitions, replication factor 3, min.insync.replicas=2`);
    expect(output).toContain(`+ add acl User:${p}-order-totals allow read group ferry.order-totals`);
    expect(output).toContain(`+ add acl User:${p}-order-totals allow write topic ${p}.orders.placed.dlt`);
    expect(output).toContain(`+ add acl User:${p}-order-audit allow read topic ${p}.orders. (prefixed)`);
    expect(output).toContain("Plan: topics 3 to create; ACLs 9 to add, 0 to remove.");
  });

  test("plan --json prints one machine-readable object", async () => {
    const { code, output } = await ferry("plan", "--file", file, "--json");
    expect(code).toBe(2);
    const plan = JSON.parse(output);
    expect(plan.changed).toBe(true);
    expect(plan.changes).toContainEqual({
      action: "create-topic",
      topic: `${p}.orders.audit`,
      partitions: 3,
      replicationFactor: 3,
      configs: { "min.insync.replicas": "2", "retention.ms": "2592000000" },
    });
  });

  test("apply reports progress and exits 0; then plan exits 0 with no changes, and apply again is a no-op", async () => {
    const applied = await ferry("apply", "--file", file, ...withHandlers);
    expect(applied.code).toBe(0);
    expect(applied.output).toMatch(new RegExp(`\\[1/12\\] \\+ create topic ${p}\\.orders\\.audit: .* … done \\(\\d+ ms\\)`));
    expect(applied.output).toContain("waiting for every broker to show the changes … done");

    const again = await ferry("plan", "--file", file, ...withHandlers);
    expect(again).toMatchObject({ code: 0 });
    expect(again.output).toContain("No changes: the cluster matches the topology.");
    expect((await ferry("apply", "--file", file, ...withHandlers)).code).toBe(0);
  });

  test("a bad file exits 1 with file, line, path and what was expected", async () => {
    const bad = path.join(dir, "bad.yaml");
    writeFileSync(bad, `topics:\n  ${p}.orders.x:\n    partitions: -1\n`);
    const { code, output } = await ferry("plan", "--file", bad);
    expect(code).toBe(1);
    expect(output).toContain(`${bad}:3: topics["${p}.orders.x"].partitions: expected the number of partitions ≥ 1, got -1`);
  });

  test("a bad flag exits 1 (2 means changes here) and points to --help", async () => {
    const { code, output } = await ferry("plan", "--fil", file);
    expect(code).toBe(1);
    expect(output).toContain("Run 'ferry topology --help' for usage.");
  });
});
