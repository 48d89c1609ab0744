import type { TopologyFile } from "./file-schema.ts";
import type { ParsedTopologyFile } from "./load-file.ts";
import { formatPath } from "./load-file.ts";
import { aclInScope, aclKey, clusterResourceName, describeAcl, type AclBinding, type AclOperation, type DesiredState, type DesiredTopic } from "./model.ts";

/** Ferry's guarantees need these unless a file says otherwise: three copies, two of them acknowledged. */
export const builtInDefaults = { partitions: 3, replicationFactor: 3, configs: { "min.insync.replicas": "2" } as Record<string, string> };

/** A service declared in a file: `--handlers` adds its handlers' needs to this principal. */
export interface DeclaredService {
  name: string;
  principal: string;
  origin: string;
}

export interface Topology {
  state: DesiredState;
  services: DeclaredService[];
}

/**
 * Turns validated files into one desired state: defaults filled in, services turned into the
 * ACLs they need, files merged. Returns every problem at once (duplicates across files, topics
 * outside the declared prefixes, values that cannot be configs).
 */
export function buildDesired(files: ParsedTopologyFile[]): Topology | { problems: string[] } {
  const problems: string[] = [];
  const topics: DesiredTopic[] = [];
  const acls: AclBinding[] = [];
  const services: DeclaredService[] = [];
  const topicPrefixes = new Set<string>();
  const principals = new Set<string>();
  const aclResourcePrefixes = new Set<string>();

  for (const { document: doc, locate } of files) {
    const where = (...keys: Array<string | number>) => `${locate(keys)}: ${formatPath(keys)}`;
    for (const p of doc.scope?.topicPrefixes ?? []) topicPrefixes.add(p);
    for (const p of doc.scope?.principals ?? []) principals.add(p);
    for (const p of doc.scope?.aclResourcePrefixes ?? []) aclResourcePrefixes.add(p);
    const defaults = doc.defaults ?? {};
    const defaultConfigs = configStrings(defaults.configs ?? {}, (k) => where("defaults", "configs", k), problems);

    for (const [name, spec] of Object.entries(doc.topics ?? {})) {
      const twin = topics.find((t) => t.name === name);
      if (twin) problems.push(`${where("topics", name)}: topic ${name} is also declared at ${twin.origin}; declare it once`);
      topics.push({
        name,
        partitions: spec?.partitions ?? defaults.partitions ?? builtInDefaults.partitions,
        replicationFactor: spec?.replicationFactor ?? defaults.replicationFactor ?? builtInDefaults.replicationFactor,
        configs: {
          ...builtInDefaults.configs,
          ...defaultConfigs,
          ...configStrings(spec?.configs ?? {}, (k) => where("topics", name, "configs", k), problems),
        },
        origin: where("topics", name),
      });
    }

    for (const [name, service] of Object.entries(doc.services ?? {})) {
      const twin = services.find((s) => s.name === name);
      if (twin) problems.push(`${where("services", name)}: service ${name} is also declared at ${twin.origin}; declare it once`);
      services.push({ name, principal: service.principal, origin: where("services", name) });
      principals.add(service.principal);
      acls.push(...serviceAcls(service));
    }

    (doc.acls ?? []).forEach((acl, i) => {
      principals.add(acl.principal);
      if (acl.resource !== "cluster" && !acl.name) {
        problems.push(`${where("acls", i)}: an ACL on a ${acl.resource} needs a name (the ${acl.resource}, or its prefix with pattern: prefixed)`);
        return;
      }
      for (const operation of acl.operations) {
        acls.push({
          principal: acl.principal,
          host: acl.host ?? "*",
          permission: acl.permission ?? "allow",
          operation,
          resourceType: acl.resource,
          resourceName: acl.resource === "cluster" ? clusterResourceName : acl.name!,
          patternType: acl.resource === "cluster" ? "literal" : (acl.pattern ?? "literal"),
        });
      }
    });
  }

  const state: DesiredState = {
    topics,
    acls: dedupeAcls(acls),
    scope: {
      topicPrefixes: [...topicPrefixes].sort(),
      principals: [...principals].sort(),
      aclResourcePrefixes: [...aclResourcePrefixes].sort(),
    },
  };
  problems.push(...outsideScope(state));
  return problems.length > 0 ? { problems } : { state, services };
}

type ServiceSpec = NonNullable<TopologyFile["services"]>[string];

/** What a service needs and nothing more: read what it consumes, write what it produces, its groups. */
export function serviceAcls(service: ServiceSpec): AclBinding[] {
  const acl = (operation: AclOperation, resourceType: "topic" | "group", ref: string): AclBinding => ({
    principal: service.principal,
    host: "*",
    permission: "allow",
    operation,
    resourceType,
    resourceName: ref.endsWith("*") ? ref.slice(0, -1) : ref,
    patternType: ref.endsWith("*") ? "prefixed" : "literal",
  });
  // No cluster-wide IDEMPOTENT_WRITE: since KIP-679 (Kafka 3.0) WRITE on any topic lets a
  // producer be idempotent, so the narrower grant is enough (proved by the least-privilege test).
  return [
    ...(service.consumes ?? []).map((t) => acl("read", "topic", t)),
    ...(service.produces ?? []).map((t) => acl("write", "topic", t)),
    ...(service.groups ?? []).map((g) => acl("read", "group", g)),
  ];
}

/**
 * With prefixes declared, every topic and ACL must fall under one: a file never creates another
 * team's topic, and never adds an ACL that a later run of its own would not see (and so re-add).
 */
export function outsideScope(state: DesiredState): string[] {
  const { topicPrefixes, aclResourcePrefixes } = state.scope;
  const problems: string[] = [];
  if (topicPrefixes.length > 0) {
    for (const t of state.topics) {
      if (!topicPrefixes.some((p) => t.name.startsWith(p))) {
        problems.push(
          `${t.origin}: topic ${t.name} is outside this topology's scope (topicPrefixes: ${topicPrefixes.join(", ")}); add its prefix or declare it in the file that owns it`,
        );
      }
    }
  }
  for (const acl of state.acls) {
    if (!aclInScope(acl, state.scope)) {
      problems.push(
        `the ACL "${describeAcl(acl)}" is outside this topology's scope (aclResourcePrefixes: ${aclResourcePrefixes.join(", ")}); add a prefix that covers ${acl.resourceName}`,
      );
    }
  }
  return problems;
}

export function dedupeAcls(acls: AclBinding[]): AclBinding[] {
  const seen = new Map<string, AclBinding>();
  for (const a of acls) seen.set(aclKey(a), a);
  return [...seen.values()];
}

function configStrings(configs: Record<string, string | number | boolean | string[]>, where: (key: string) => string, problems: string[]) {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(configs)) {
    if (typeof value === "number" && !Number.isSafeInteger(value) && Number.isInteger(value)) {
      problems.push(`${where(key)}: ${value} is too large to read exactly as a YAML number; write it in quotes`);
    }
    out[key] = Array.isArray(value) ? value.join(",") : String(value);
  }
  return out;
}
