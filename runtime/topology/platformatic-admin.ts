/**
 * TopologyAdmin over @platformatic/kafka: the main client (librdkafka) has no config, partition
 * or ACL admin calls, this one has them all (see the commit that added it for the comparison).
 */
import {
  AclOperations,
  AclPermissionTypes,
  Admin,
  ConfigResourceTypes,
  IncrementalAlterConfigOperationTypes,
  ResourcePatternTypes,
  ResourceTypes,
  type AclOperationValue,
  type ResourceTypeValue,
} from "@platformatic/kafka";
import { readFileSync } from "node:fs";
import { FerryError } from "../errors.ts";
import type { KafkaConnection } from "../kafka/confluent.ts";
import type { TopologyAdmin } from "./admin.ts";
import type { AclBinding, AclOperation, AclResourceType } from "./model.ts";

const operations: Record<AclOperation, AclOperationValue> = {
  all: AclOperations.ALL,
  read: AclOperations.READ,
  write: AclOperations.WRITE,
  create: AclOperations.CREATE,
  delete: AclOperations.DELETE,
  alter: AclOperations.ALTER,
  describe: AclOperations.DESCRIBE,
  "cluster-action": AclOperations.CLUSTER_ACTION,
  "describe-configs": AclOperations.DESCRIBE_CONFIGS,
  "alter-configs": AclOperations.ALTER_CONFIGS,
  "idempotent-write": AclOperations.IDEMPOTENT_WRITE,
};
const resourceTypes: Record<AclResourceType, ResourceTypeValue> = {
  topic: ResourceTypes.TOPIC,
  group: ResourceTypes.GROUP,
  cluster: ResourceTypes.CLUSTER,
  "transactional-id": ResourceTypes.TRANSACTIONAL_ID,
};
const invert = <K extends string, V>(m: Record<K, V>) => new Map([...Object.entries(m)].map(([k, v]) => [v as V, k as K]));
const operationNames = invert(operations);
const resourceTypeNames = invert(resourceTypes);

const toKafkaAcl = (a: AclBinding) => ({
  resourceType: resourceTypes[a.resourceType],
  resourceName: a.resourceName,
  resourcePatternType: a.patternType === "prefixed" ? ResourcePatternTypes.PREFIXED : ResourcePatternTypes.LITERAL,
  principal: a.principal,
  host: a.host,
  operation: operations[a.operation],
  permissionType: a.permission === "deny" ? AclPermissionTypes.DENY : AclPermissionTypes.ALLOW,
});

export function createPlatformaticAdmin(connection: KafkaConnection): TopologyAdmin {
  const usesTls = connection.securityProtocol === "ssl" || connection.securityProtocol === "sasl_ssl";
  const admin = new Admin({
    clientId: `${connection.clientId}-topology`,
    bootstrapBrokers: connection.brokers,
    retries: 3,
    ...(usesTls ? { tls: nodeTlsOptions(connection.tls) } : {}),
    ...(connection.sasl
      ? { sasl: { mechanism: connection.sasl.mechanism as "PLAIN", username: connection.sasl.username, password: connection.sasl.password } }
      : {}),
  });
  const call = async <T>(what: string, run: () => Promise<T>): Promise<T> => {
    try {
      return await run();
    } catch (e) {
      throw new FerryError(`${what} failed: ${explain(e)}`, { cause: e });
    }
  };

  return {
    listTopics: () => call("listing topics", () => admin.listTopics({ includeInternals: false })),
    describeTopics: (topics) =>
      call("reading topic metadata", async () => {
        if (topics.length === 0) return [];
        // One unknown topic fails the whole request; a topic listed a moment ago may be gone
        // (deleted, or a broker that has not caught up), so then ask per topic and drop the missing.
        const metadata = await admin.metadata({ topics, forceUpdate: true, retries: 0 }).catch(async (e: Error) => {
          if (!/unknown topic/i.test(e.message)) throw e;
          const each = await Promise.all(
            topics.map((topic) =>
              admin
                .metadata({ topics: [topic], forceUpdate: true, retries: 0 })
                .catch((x: Error) => (/unknown topic/i.test(x.message) ? null : Promise.reject(x))),
            ),
          );
          return { topics: new Map(each.flatMap((m, i) => (m?.topics.get(topics[i]!) ? [[topics[i]!, m.topics.get(topics[i]!)!] as const] : []))) };
        });
        return [...metadata.topics]
          .filter(([name]) => topics.includes(name))
          .map(([name, t]) => ({
            name,
            partitions: t.partitionsCount,
            // Partition 0 tells the factor; during a reassignment the list is briefly longer.
            replicationFactor: t.partitions[0]?.replicas.length ?? 0,
          }));
      }),
    describeConfigs: (requests) =>
      call("reading topic configs", async () => {
        const result = new Map<string, Record<string, string | null>>();
        if (requests.length === 0) return result;
        const described = await admin.describeConfigs({
          resources: requests.map((r) => ({ resourceType: ConfigResourceTypes.TOPIC, resourceName: r.topic, configurationKeys: r.names })),
        });
        for (const d of described) result.set(d.resourceName, Object.fromEntries(d.configs.map((c) => [c.name, c.value ?? null])));
        return result;
      }),
    describeAcls: (principal) =>
      call(`reading the ACLs of ${principal}`, async () => {
        const resources = await admin.describeAcls({
          filter: {
            resourceType: ResourceTypes.ANY,
            resourceName: null,
            resourcePatternType: ResourcePatternTypes.ANY,
            principal,
            host: null,
            operation: AclOperations.ANY,
            permissionType: AclPermissionTypes.ANY,
          },
        });
        return resources.flatMap((r) =>
          r.acls.map((a) => ({
            principal: a.principal,
            host: a.host,
            permission: a.permissionType === AclPermissionTypes.DENY ? ("deny" as const) : ("allow" as const),
            operation: operationNames.get(a.operation) ?? ("all" as const),
            resourceType: resourceTypeNames.get(r.resourceType) ?? ("topic" as const),
            resourceName: r.resourceName,
            patternType: r.resourcePatternType === ResourcePatternTypes.PREFIXED ? ("prefixed" as const) : ("literal" as const),
          })),
        );
      }),
    createTopic: (t) =>
      call(`creating topic ${t.name}`, async () => {
        await admin.createTopics({
          topics: [t.name],
          partitions: t.partitions,
          replicas: t.replicationFactor,
          configs: Object.entries(t.configs).map(([name, value]) => ({ name, value })),
        });
      }),
    createPartitions: (topic, count) => call(`adding partitions to ${topic}`, () => admin.createPartitions({ topics: [{ name: topic, count }] })),
    setConfigs: (topic, configs) =>
      call(`updating the configs of ${topic}`, () =>
        admin.incrementalAlterConfigs({
          resources: [
            {
              resourceType: ConfigResourceTypes.TOPIC,
              resourceName: topic,
              configs: Object.entries(configs).map(([name, value]) => ({ name, value, configOperation: IncrementalAlterConfigOperationTypes.SET })),
            },
          ],
        }),
      ),
    deleteTopic: (topic) => call(`deleting topic ${topic}`, () => admin.deleteTopics({ topics: [topic] })),
    createAcls: (acls) => call("creating ACLs", () => admin.createAcls({ creations: acls.map(toKafkaAcl) })),
    deleteAcls: (acls) =>
      call("deleting ACLs", async () => {
        await admin.deleteAcls({ filters: acls.map(toKafkaAcl) });
      }),
    close: () => admin.close(),
  };
}

/** node:tls options from the PEM files (the host name is checked by node:tls against the broker's address). */
function nodeTlsOptions(tls: KafkaConnection["tls"]) {
  const read = (file: string | undefined) => (file ? readFileSync(file, "utf8") : undefined);
  const ca = read(tls?.caFile);
  const cert = read(tls?.certFile);
  const key = read(tls?.keyFile);
  return { ...(ca ? { ca } : {}), ...(cert ? { cert } : {}), ...(key ? { key } : {}), ...(tls?.keyPassword ? { passphrase: tls.keyPassword } : {}) };
}

/** The client wraps broker errors in an aggregate; the broker's own words are what helps. */
function explain(e: unknown): string {
  const error = e as Error & { errors?: Array<Error & { apiId?: string }> };
  const inner = (error.errors ?? []).map((x) => x.message).filter(Boolean);
  return inner.length ? `${error.message}: ${[...new Set(inner)].join("; ")}` : (error?.message ?? String(e));
}
