import { FerryError, TopologyRefusedError, coerceError } from "../errors.ts";
import type { TopologyAdmin } from "./admin.ts";
import type { Change, Plan } from "./model.ts";
import { describeChange } from "./render.ts";

export type ApplyEvent =
  | { type: "step:started"; change: Change; index: number; total: number }
  | { type: "step:finished"; change: Change; index: number; total: number; ms: number };

/**
 * The order changes are made in: topics exist before ACLs name them, partitions and configs
 * before consumers rely on them, new ACLs before old ones go (a replaced grant never lapses),
 * and deletions last.
 */
const phase: Record<Change["action"], number> = {
  "create-topic": 0,
  "add-partitions": 1,
  "update-configs": 2,
  "add-acl": 3,
  "remove-acl": 4,
  "delete-topic": 5,
};

/** Every reason the plan must not be applied at all; empty when it may be. */
export function refusalsOf(plan: Plan, { allowDelete }: { allowDelete: boolean }): string[] {
  const reasons = plan.refusals.map((r) => r.message);
  if (!allowDelete) {
    for (const c of plan.changes) {
      if (c.action === "delete-topic") {
        reasons.push(`the plan deletes topic ${c.topic} (in scope, not declared): pass --allow-delete to delete it, or declare it to keep it`);
      }
    }
  }
  return reasons;
}

/**
 * Applies a plan, all or nothing as far as refusals go: a refused plan changes nothing. Each step
 * is safe to repeat, so after a failure part-way the next run (which plans afresh from the cluster)
 * finishes the job.
 */
export async function applyPlan(
  admin: TopologyAdmin,
  plan: Plan,
  { allowDelete, onEvent }: { allowDelete: boolean; onEvent?: (event: ApplyEvent) => void },
): Promise<void> {
  const refused = refusalsOf(plan, { allowDelete });
  if (refused.length > 0) throw new TopologyRefusedError(refused);
  const steps = [...plan.changes].sort((a, b) => phase[a.action] - phase[b.action]);
  for (const [index, change] of steps.entries()) {
    onEvent?.({ type: "step:started", change, index, total: steps.length });
    const started = performance.now();
    try {
      await applyChange(admin, change);
    } catch (e) {
      throw new FerryError(
        `${describeChange(change, { allowDelete })} failed after ${index} of ${steps.length} changes were applied: ` +
          `${coerceError(e).message}. Running apply again is safe: it plans afresh and makes only what is still missing.`,
        { cause: e },
      );
    }
    onEvent?.({ type: "step:finished", change, index, total: steps.length, ms: Math.round(performance.now() - started) });
  }
}

async function applyChange(admin: TopologyAdmin, change: Change): Promise<void> {
  switch (change.action) {
    case "create-topic":
      return admin.createTopic({ name: change.topic, partitions: change.partitions, replicationFactor: change.replicationFactor, configs: change.configs });
    case "add-partitions":
      return admin.createPartitions(change.topic, change.to);
    case "update-configs":
      return admin.setConfigs(change.topic, Object.fromEntries(change.configs.map((c) => [c.name, c.to])));
    case "add-acl":
      return admin.createAcls([change.acl]);
    case "remove-acl":
      return admin.deleteAcls([change.acl]);
    case "delete-topic":
      return admin.deleteTopic(change.topic);
  }
}

/**
 * Waits until the cluster shows every change: brokers learn new topics and ACLs from the
 * controller a moment after it accepts them, and a plan run right after apply must show none.
 * Two clean reads in a row, because successive requests may be answered by different brokers.
 */
export async function waitUntilApplied(replan: () => Promise<Plan>, { timeoutMs = 30_000 } = {}): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let clean = 0;
  for (let delay = 50; ; delay = Math.min(delay * 2, 1_000)) {
    const plan = await replan();
    clean = plan.changes.length === 0 ? clean + 1 : 0;
    if (clean === 2) return;
    if (clean === 1) continue;
    if (Date.now() > deadline) {
      throw new FerryError(
        `the cluster still differs from the topology ${timeoutMs} ms after apply: ${plan.changes.map((c) => describeChange(c)).join("; ")}. ` +
          "Run plan again; if the difference stays, another tool may be changing the same resources.",
      );
    }
    await Bun.sleep(delay);
  }
}
