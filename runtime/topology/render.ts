import { describeAcl, type Change, type Plan, type Scope } from "./model.ts";

const configList = (configs: Record<string, string>) =>
  Object.entries(configs)
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([k, v]) => `${k}=${v}`)
    .join(", ");

/** One line per change, the way plan and apply show it. */
export function describeChange(change: Change, { allowDelete = false } = {}): string {
  switch (change.action) {
    case "create-topic":
      return (
        `+ create topic ${change.topic}: ${change.partitions} partitions, replication factor ${change.replicationFactor}` +
        (Object.keys(change.configs).length ? `, ${configList(change.configs)}` : "")
      );
    case "update-configs":
      return `~ update topic ${change.topic}: ${change.configs.map((c) => `${c.name} ${c.from ?? "(unset)"} → ${c.to}`).join(", ")}`;
    case "add-partitions":
      return `~ add partitions to ${change.topic}: ${change.from} → ${change.to}`;
    case "delete-topic":
      return `- delete topic ${change.topic}${allowDelete ? "" : " (apply needs --allow-delete)"}`;
    case "add-acl":
      return `+ add acl ${describeAcl(change.acl)}`;
    case "remove-acl":
      return `- remove acl ${describeAcl(change.acl)}`;
  }
}

/** The human plan: scope, changes, warnings, refusals, and a one-line summary. */
export function renderPlan(plan: Plan, scope: Scope, { allowDelete = false } = {}): string {
  const lines: string[] = [];
  const prefixes = scope.topicPrefixes.length ? scope.topicPrefixes.join(", ") : "(none: only the declared topics)";
  const aclPrefixes = scope.aclResourcePrefixes.length ? ` on resources ${scope.aclResourcePrefixes.join(", ")}` : "";
  lines.push(`Scope: topic prefixes ${prefixes}; ACLs of ${scope.principals.join(", ") || "(no principal)"}${aclPrefixes}`, "");
  if (plan.changes.length === 0 && plan.refusals.length === 0) {
    lines.push("No changes: the cluster matches the topology.");
    return lines.join("\n");
  }
  for (const change of plan.changes) lines.push(`  ${describeChange(change, { allowDelete })}`);
  if (plan.warnings.length) lines.push("", ...plan.warnings.map((w) => `Warning: ${w}`));
  if (plan.refusals.length) lines.push("", ...plan.refusals.map((r) => `Refused (${r.reason}): ${r.message}`));
  lines.push("", summarise(plan));
  return lines.join("\n");
}

export function summarise(plan: Plan): string {
  const count = (action: Change["action"]) => plan.changes.filter((c) => c.action === action).length;
  const parts = [
    [count("create-topic"), "to create"],
    [count("update-configs"), "to update"],
    [count("add-partitions"), "to grow"],
    [count("delete-topic"), "to delete"],
  ] as const;
  const topics =
    parts
      .filter(([n]) => n > 0)
      .map(([n, what]) => `${n} ${what}`)
      .join(", ") || "no change";
  const acls = `${count("add-acl")} to add, ${count("remove-acl")} to remove`;
  const refused = plan.refusals.length ? `; ${plan.refusals.length} refused: apply will change nothing until the file is fixed` : "";
  return `Plan: topics ${topics}; ACLs ${acls}${refused}.`;
}

/** The machine-readable plan (`--json`): stable keys, one object. */
export function planJson(plan: Plan, scope: Scope): string {
  return JSON.stringify({ changed: plan.changes.length > 0, scope, changes: plan.changes, warnings: plan.warnings, refusals: plan.refusals }, null, 2);
}
