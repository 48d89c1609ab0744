import type { TopicPartition, TopicPartitionOffset } from "../kafka/port.ts";

export interface KafkaCommits {
  /**
   * PostgreSQL holds `offset` as the partition's next offset: Kafka hears of it within the
   * interval, in one commit for every partition that moved meanwhile. After `stop()`, at once.
   */
  offer(offset: TopicPartitionOffset): Promise<void>;
  /** Drops what was not committed yet for revoked partitions: their next owner resumes from PostgreSQL and catches Kafka up. */
  forget(partitions: TopicPartition[]): void;
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
  intervalMs,
  onCommitted,
  onFailed,
}: {
  commit(offsets: TopicPartitionOffset[]): Promise<void>;
  intervalMs: number;
  onCommitted(offsets: TopicPartitionOffset[], durationMs: number): void;
  onFailed(offsets: TopicPartitionOffset[], error: unknown): void;
}): KafkaCommits {
  const key = (p: TopicPartition) => `${p.topic}:${p.partition}`;
  const pending = new Map<string, TopicPartitionOffset>();
  let timer: ReturnType<typeof setTimeout> | undefined;
  let immediate = false;

  const flush = async () => {
    clearTimeout(timer);
    timer = undefined;
    if (pending.size === 0) return;
    const offsets = [...pending.values()];
    pending.clear();
    const started = performance.now();
    try {
      await commit(offsets);
      onCommitted(offsets, performance.now() - started);
    } catch (e) {
      onFailed(offsets, e);
    }
  };

  return {
    async offer(offset) {
      pending.set(key(offset), offset);
      if (immediate) return flush();
      timer ??= setTimeout(() => void flush(), intervalMs);
    },
    forget(partitions) {
      for (const p of partitions) pending.delete(key(p));
    },
    async stop() {
      immediate = true;
      await flush();
    },
  };
}
