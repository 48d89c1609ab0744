import * as v from "valibot";
import { aclOperations, aclResourceTypes } from "./model.ts";

/**
 * The shape of one topology file. Every message says what is expected; the loader adds the
 * file, the path in the document and the line.
 */

const name = (what: string) =>
  v.pipe(v.string(`expected ${what} (a string)`), v.regex(/^[A-Za-z0-9._-]{1,249}$/, `expected ${what}: 1-249 letters, digits, '.', '_' or '-'`));

const topicName = name("a topic name");
/** A topic or group a service uses; a trailing `*` means every name with that prefix. */
const resourceRef = (what: string) =>
  v.pipe(
    v.string(`expected ${what} (a string; a trailing * means a prefix)`),
    v.regex(/^[A-Za-z0-9._-]{1,249}\*?$/, `expected ${what}: letters, digits, '.', '_' or '-', optionally ending in * for a prefix`),
  );
const list = <T extends v.GenericSchema>(item: T, what: string) => v.array(item, `expected a list of ${what}`);

const positive = (what: string) =>
  v.pipe(v.number(`expected ${what} (a whole number ≥ 1)`), v.integer(`expected ${what} (a whole number ≥ 1)`), v.minValue(1, `expected ${what} ≥ 1`));

/** Config values may be written as YAML numbers, booleans or (for cleanup.policy) a list. */
const configValue = v.union(
  [v.string(), v.number(), v.boolean(), v.array(v.string())],
  "expected a config value: a string, a number, true/false, or a list of strings",
);
const configs = v.record(
  v.pipe(v.string(), v.regex(/^[a-z0-9.]+$/, "expected a Kafka config name such as retention.ms")),
  configValue,
  "expected a map of Kafka config names to values, e.g. retention.ms: 604800000",
);

const principal = v.pipe(
  v.string('expected a principal such as "User:alice"'),
  v.regex(/^[A-Za-z]+:\S+$/, 'expected a principal such as "User:alice" (type, colon, name)'),
);

const topic = v.nullish(
  v.strictObject(
    {
      partitions: v.optional(positive("the number of partitions")),
      replicationFactor: v.optional(positive("the replication factor")),
      configs: v.optional(configs),
    },
    "expected a topic: { partitions, replicationFactor, configs } (each optional)",
  ),
);

const service = v.strictObject(
  {
    principal,
    consumes: v.optional(list(resourceRef("a topic to consume"), "topics")),
    produces: v.optional(list(resourceRef("a topic to produce to"), "topics")),
    groups: v.optional(list(resourceRef("a consumer group id"), "consumer group ids")),
  },
  "expected a service: { principal, consumes, produces, groups }",
);

const acl = v.strictObject(
  {
    principal,
    resource: v.picklist(aclResourceTypes, `expected resource to be one of: ${aclResourceTypes.join(", ")}`),
    name: v.optional(v.pipe(v.string("expected the resource name (a string)"), v.minLength(1, "expected a non-empty resource name"))),
    pattern: v.optional(v.picklist(["literal", "prefixed"], "expected pattern to be literal or prefixed")),
    operations: v.pipe(
      list(v.picklist(aclOperations, `expected an operation, one of: ${aclOperations.join(", ")}`), "operations"),
      v.minLength(1, "expected at least one operation"),
    ),
    permission: v.optional(v.picklist(["allow", "deny"], "expected permission to be allow or deny")),
    host: v.optional(v.pipe(v.string("expected a host (a string, * for any)"), v.minLength(1))),
  },
  "expected an ACL: { principal, resource, name, pattern, operations, permission, host }",
);

export const topologyFileSchema = v.strictObject(
  {
    scope: v.optional(
      v.strictObject(
        {
          topicPrefixes: v.optional(
            list(v.pipe(v.string("expected a topic name prefix"), v.minLength(1, "expected a non-empty prefix")), "topic name prefixes"),
          ),
          principals: v.optional(list(principal, "principals")),
          aclResourcePrefixes: v.optional(
            list(v.pipe(v.string("expected a resource name prefix"), v.minLength(1, "expected a non-empty prefix")), "resource name prefixes"),
          ),
        },
        "expected scope: { topicPrefixes, principals, aclResourcePrefixes }",
      ),
    ),
    defaults: v.optional(
      v.strictObject(
        {
          partitions: v.optional(positive("the default number of partitions")),
          replicationFactor: v.optional(positive("the default replication factor")),
          configs: v.optional(configs),
        },
        "expected defaults: { partitions, replicationFactor, configs }",
      ),
    ),
    topics: v.optional(v.record(topicName, topic, "expected topics: a map of topic names to { partitions, replicationFactor, configs }")),
    services: v.optional(v.record(name("a service name"), service, "expected services: a map of service names to { principal, consumes, produces, groups }")),
    acls: v.optional(list(acl, "ACLs")),
  },
  "expected a topology document with some of: scope, defaults, topics, services, acls",
);

export type TopologyFile = v.InferOutput<typeof topologyFileSchema>;
