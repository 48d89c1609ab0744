import { describe, expect, test } from "bun:test";
import { buildDesired } from "./desired.ts";
import { parseTopologyText, type ParsedTopologyFile } from "./load-file.ts";

const parse = (text: string, file = "team.yaml") => parseTopologyText(file, text);
const ok = (text: string, file = "team.yaml"): ParsedTopologyFile => {
  const result = parse(text, file);
  if ("problems" in result) throw new Error(result.problems.join("\n"));
  return result;
};

describe("topology files", () => {
  test.each([
    [
      "a wrong type, with file, line and path",
      "topics:\n  orders.placed:\n    partitions: six\n",
      'team.yaml:3: topics["orders.placed"].partitions: expected the number of partitions (a whole number ≥ 1), got "six"',
    ],
    ["an unknown key (a typo)", "topics:\n  orders.a:\n    retentionMs: 5\n", 'team.yaml:3: topics["orders.a"].retentionMs: unknown key'],
    ["a missing principal", "services:\n  billing:\n    consumes: [orders.a]\n", "team.yaml:3: services.billing.principal: is required"],
    ["a bad principal", "services:\n  billing:\n    principal: alice\n", 'expected a principal such as "User:alice" (type, colon, name), got "alice"'],
    ["invalid YAML", "topics: [\n", "team.yaml:2: not valid YAML"],
    [
      "an unknown ACL operation",
      "acls:\n  - { principal: User:bob, resource: topic, name: x, operations: [reed] }\n",
      "acls[0].operations[0]: expected an operation, one of: all, read",
    ],
  ])("reports %s", (_name, text, message) => {
    const result = parse(text);
    expect("problems" in result && result.problems.join("\n")).toContain(message);
  });

  test("fills in the defaults: replication factor 3, min.insync.replicas=2, 3 partitions", () => {
    const built = buildDesired([
      ok("topics:\n  orders.a:\n  orders.b: { partitions: 6, configs: { retention.ms: 1000, cleanup.policy: [compact, delete] } }\n"),
    ]);
    if ("problems" in built) throw new Error(built.problems.join("\n"));
    expect(built.state.topics.map(({ origin: _, ...t }) => t)).toEqual([
      { name: "orders.a", partitions: 3, replicationFactor: 3, configs: { "min.insync.replicas": "2" } },
      {
        name: "orders.b",
        partitions: 6,
        replicationFactor: 3,
        configs: { "min.insync.replicas": "2", "retention.ms": "1000", "cleanup.policy": "compact,delete" },
      },
    ]);
  });

  test("turns a service into exactly the ACLs it needs; a trailing * is a prefix", () => {
    const built = buildDesired([ok("services:\n  s:\n    principal: User:alice\n    consumes: [orders.a]\n    produces: [audit.*]\n    groups: [s-group]\n")]);
    if ("problems" in built) throw new Error(built.problems.join("\n"));
    expect(built.state.acls.map((a) => `${a.operation} ${a.resourceType} ${a.resourceName} ${a.patternType}`)).toEqual([
      "read topic orders.a literal",
      "write topic audit. prefixed",
      "read group s-group literal",
    ]);
    expect(built.state.scope.principals).toEqual(["User:alice"]);
  });

  test("refuses a topic declared in two files, naming both", () => {
    const built = buildDesired([ok("topics:\n  orders.a:\n", "a.yaml"), ok("topics:\n  orders.a:\n", "b.yaml")]);
    expect("problems" in built && built.problems[0]).toBe(
      'b.yaml:2: topics["orders.a"]: topic orders.a is also declared at a.yaml:2: topics["orders.a"]; declare it once',
    );
  });

  test("refuses topics and ACLs outside the declared prefixes", () => {
    const built = buildDesired([
      ok(
        "scope:\n  topicPrefixes: [orders.]\n  aclResourcePrefixes: [orders.]\ntopics:\n  payments.a:\nservices:\n  s: { principal: User:alice, groups: [g] }\n",
      ),
    ]);
    const problems = "problems" in built ? built.problems.join("\n") : "";
    expect(problems).toContain("topic payments.a is outside this topology's scope");
    expect(problems).toContain('the ACL "User:alice allow read group g" is outside this topology\'s scope');
  });

  test("asks for quotes around numbers too large for JavaScript", () => {
    const built = buildDesired([ok("topics:\n  orders.a: { configs: { retention.bytes: 9223372036854775807 } }\n")]);
    expect("problems" in built && built.problems[0]).toContain("write it in quotes");
  });
});
