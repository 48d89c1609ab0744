import { partitionKey as key, type TopicPartition, type TopicPartitionOffset } from "../kafka/port.ts";

export interface KafkaCommits {
  /**
   * PostgreSQL holds `offset` as the partition's next offset: Kafka hears of it within the
   * interval, in one commit for every partition that moved meanwhile. After `stop()`, at once.
   * Offers only move forward: one not above the partition's last offer is ignored.
   */
  offer(offset: TopicPartitionOffset): Promise<void>;
  /** Drops what was not committed yet for revoked partitions: their next owner resumes from PostgreSQL and catches Kafka up. */
  forget(partitions: TopicPartition[]): void;
  /**
   * Commits what is pending now (a revocation: the last moment this member may commit them).
   * `readBack: false` hands the commit to the client without reading it back: inside a
   * revocation the group waits for this member, and the partitions are forgotten next anyway.
   */
  flush(options?: { readBack?: boolean }): Promise<void>;
  /** Commits what is pending; later offers commit at once. */
  stop(): Promise<void>;
}

/**
 * Coalesces Kafka offset commits. The offsets that count are PostgreSQL's (written in each
 * batch's transaction, resumed from on assignment); Kafka's follow for lag and tooling. Each
 * commit is a replicated write on the group coordinator, and one per batch cost the brokers
 * more CPU than Ferry and PostgreSQL together spent on the batch (bench/README.md). Order is
 * kept: only offsets already committed in PostgreSQL are ever offered.
 */
export function createKafkaCommits({
  commit,
  committed,
  intervalMs,
  onCommitted,
  onFailed,
}: {
  commit(offsets: TopicPartitionOffset[]): Promise<void>;
  /**
   * Reads back what the group holds. The client resolves a commit even when the coordinator
   * refuses it for some partitions (during a rebalance): those are offered again at the next
   * interval, as long as they stay assigned (forget() ends that).
   */
  committed?(offsets: TopicPartitionOffset[]): Promise<TopicPartitionOffset[]>;
  intervalMs: number;
  onCommitted(offsets: TopicPartitionOffset[], durationMs: number): void;
  onFailed(offsets: TopicPartitionOffset[], error: unknown): void;
}): KafkaCommits {
  const pending = new Map<string, TopicPartitionOffset>();
  // Bumped by forget(): an offset taken before its partition was revoked is never offered again.
  const revocations = new Map<string, number>();
  // The highest offset offered per partition since it was assigned: Kafka's commit never goes back.
  const offered = new Map<string, bigint>();
  let timer: ReturnType<typeof setTimeout> | undefined;
  let immediate = false;

  const offerAgain = (offsets: TopicPartitionOffset[], seen: Map<string, number>) => {
    for (const o of offsets) {
      // Only while it is still the partition's newest offer: flushes overlap (a read-back can take
      // seconds in a rebalance), and a newer offset taken by a later flush, or pending, must not be
      // followed by this older one, or Kafka's commit goes back and stays there.
      const newest = offered.get(key(o)) === BigInt(o.offset);
      if (newest && (revocations.get(key(o)) ?? 0) === seen.get(key(o)) && !pending.has(key(o))) pending.set(key(o), o);
    }
    if (pending.size > 0 && !immediate) timer ??= setTimeout(() => void flush(), intervalMs);
  };

  const refusedOf = async (offsets: TopicPartitionOffset[]) => {
    if (!committed) return [];
    const now = new Map((await committed(offsets)).map((c) => [key(c), BigInt(c.offset)]));
    return offsets.filter((o) => (now.get(key(o)) ?? -1n) < BigInt(o.offset));
  };

  const flush = async ({ readBack = true }: { readBack?: boolean } = {}) => {
    clearTimeout(timer);
    timer = undefined;
    if (pending.size === 0) return;
    const offsets = [...pending.values()];
    const seen = new Map(offsets.map((o) => [key(o), revocations.get(key(o)) ?? 0]));
    pending.clear();
    const started = performance.now();
    try {
      await commit(offsets);
      const refused = readBack ? await refusedOf(offsets) : [];
      onCommitted(
        offsets.filter((o) => !refused.includes(o)),
        performance.now() - started,
      );
      if (refused.length > 0) {
        onFailed(refused, new Error("the group coordinator did not take these offsets (a rebalance?); they are offered again"));
        offerAgain(refused, seen);
      }
    } catch (e) {
      onFailed(offsets, e);
      if (committed && readBack) offerAgain(offsets, seen);
    }
  };

  return {
    async offer(offset) {
      const at = BigInt(offset.offset);
      if (at <= (offered.get(key(offset)) ?? -1n)) return;
      offered.set(key(offset), at);
      pending.set(key(offset), offset);
      if (immediate) return flush();
      timer ??= setTimeout(() => void flush(), intervalMs);
    },
    forget(partitions) {
      for (const p of partitions) {
        pending.delete(key(p));
        offered.delete(key(p));
        revocations.set(key(p), (revocations.get(key(p)) ?? 0) + 1);
      }
    },
    flush: (options) => flush(options),
    async stop() {
      immediate = true;
      await flush();
    },
  };
}
