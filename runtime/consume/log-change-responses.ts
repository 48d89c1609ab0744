/**
 * What the lane consumer does when records show the log changed under a lane (log-changes.ts):
 * records deleted unread are reported (the client already went on from the log start); a log that
 * looks replaced is confirmed with the partition's leader, and then the partition is opened again
 * as on a reassignment, so its owner decides anew where it starts.
 */
import { coerceError } from "../errors.ts";
import { finishedWithin } from "../finished-within.ts";
import { type ConsumerOptions, partitionKey, type TopicPartition } from "../kafka/port.ts";
import type { Logger } from "../log/logger.ts";
import type { LogBounds, LogChange } from "./log-changes.ts";
import type { PartitionLanes } from "./partition-lanes.ts";

/** How long a batch of the old log may take to finish before the partition is opened again (as a revocation waits). */
const CLOSE_WAIT_MS = 10_000;

export function createLogChangeResponses(deps: {
  options: Pick<ConsumerOptions, "groupId" | "onAssign" | "onRevoke" | "onLogChanged">;
  log: Logger;
  running(): boolean;
  lanes: Pick<PartitionLanes, "assigned" | "close" | "open" | "notReplaced">;
  logBounds(tp: TopicPartition, timeoutMs: number): Promise<LogBounds>;
  fetchFrom(tp: TopicPartition, offset: string): void;
  /** Runs `step` in turn with the rebalances (never beside one). */
  inTurn(step: () => Promise<void>): void;
  /** The consumer's own memory of the partition is dropped, and the client fetches it (not paused). */
  forget(tp: TopicPartition): void;
  isHeld(tp: TopicPartition): boolean;
}) {
  const { options, log } = deps;

  /**
   * The log under an assigned partition was replaced: the partition is closed and opened again, in
   * turn with the rebalances, so no batch of the old log commits after its owner decided where the
   * new log is read from (its start).
   */
  const reopen = (tp: TopicPartition) =>
    deps.inTurn(async () => {
      if (!deps.running() || !deps.lanes.assigned().some((a) => partitionKey(a) === partitionKey(tp))) return;
      await deps.lanes.close([tp], CLOSE_WAIT_MS);
      // Nothing to hand Kafka: the offsets it would get belong to the log that is gone.
      await finishedWithin(Promise.resolve(options.onRevoke?.([tp], { lost: true })), CLOSE_WAIT_MS);
      deps.forget(tp);
      const positions = (await options.onAssign?.([tp], { logReplaced: true })) ?? [];
      if (!deps.running()) return;
      const nextOffset = positions.find((p) => partitionKey(p) === partitionKey(tp))?.offset ?? "0";
      deps.lanes.open(tp, { held: deps.isHeld(tp), nextOffset });
      deps.fetchFrom(tp, nextOffset);
    });

  return {
    /** The client went on from the log start by itself (auto.offset.reset=earliest): say what was skipped. */
    reportDeleted(tp: TopicPartition, change: Extract<LogChange, { kind: "records-deleted" }>) {
      void Promise.resolve(options.onLogChanged?.(tp, change)).catch((e: unknown) =>
        log.warn("partition:log-change-report-failed", { group: options.groupId, partition: partitionKey(tp), error: coerceError(e) }),
      );
    },

    /**
     * The client's cached end is below the lane's offset: asked of the leader before acting, since
     * acting reads the partition again from its start (the inbox keeps that exactly once, but it is
     * the whole partition).
     */
    async confirmReplaced(tp: TopicPartition, change: { stored: string }) {
      const bounds = await deps.logBounds(tp, 5_000).catch(() => undefined);
      if (!deps.running()) return;
      if (bounds && /^\d+$/.test(bounds.logEnd) && BigInt(bounds.logEnd) >= BigInt(change.stored)) {
        log.debug("partition:log-not-replaced", { group: options.groupId, partition: partitionKey(tp), ...bounds, nextOffset: change.stored });
        const from = deps.lanes.notReplaced(tp);
        if (from !== undefined) deps.fetchFrom(tp, from);
        return;
      }
      reopen(tp);
    },
  };
}
