/**
 * The live view of `ferry dev`: one line per batch that did something, with the handler's running
 * totals, so a newcomer watches applied events, skipped duplicates and dead letters as they happen.
 */
import type { EngineEvents } from "../engine-events.ts";

export interface HandlerTotals {
  applied: number;
  technicalDuplicates: number;
  functionalDuplicates: number;
  /** Every dead letter (functional duplicates included), by reason. */
  deadLetters: Record<string, number>;
}

export type TallyLine = { handler: string; topic: string; partition: number; batch: HandlerTotals; totals: HandlerTotals };

const empty = (): HandlerTotals => ({ applied: 0, technicalDuplicates: 0, functionalDuplicates: 0, deadLetters: {} });

export function trackTotals(events: EngineEvents, onLine: (line: TallyLine) => void): { totals: Map<string, HandlerTotals>; stop(): void } {
  const totals = new Map<string, HandlerTotals>();
  const pending = new Map<string, HandlerTotals>(); // per handler/partition, until its batch ends
  const keyOf = (e: { handler: string; topic: string; partition: number }) => `${e.handler}\n${e.topic}\n${e.partition}`;
  const offs = [
    events.on("event:dead-lettered", (e) => {
      const batch = pending.get(keyOf(e)) ?? empty();
      batch.deadLetters[e.reason] = (batch.deadLetters[e.reason] ?? 0) + 1;
      pending.set(keyOf(e), batch);
    }),
    events.on("batch:applied", (e) => {
      const batch = pending.get(keyOf(e)) ?? empty();
      pending.delete(keyOf(e));
      batch.applied = e.applied;
      batch.technicalDuplicates = e.technicalDuplicates;
      batch.functionalDuplicates = e.functionalDuplicates;
      const sum = totals.get(e.handler) ?? empty();
      sum.applied += batch.applied;
      sum.technicalDuplicates += batch.technicalDuplicates;
      sum.functionalDuplicates += batch.functionalDuplicates;
      for (const [reason, n] of Object.entries(batch.deadLetters)) sum.deadLetters[reason] = (sum.deadLetters[reason] ?? 0) + n;
      totals.set(e.handler, sum);
      if (batch.applied + batch.technicalDuplicates + Object.keys(batch.deadLetters).length > 0) {
        onLine({ handler: e.handler, topic: e.topic, partition: e.partition, batch, totals: structuredClone(sum) });
      }
    }),
  ];
  return {
    totals,
    stop: () => {
      for (const off of offs) off();
    },
  };
}

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;
const letters = (t: HandlerTotals) => Object.values(t.deadLetters).reduce((a, b) => a + b, 0);

/** `order-totals orders[2]: +3 applied, 1 technical duplicate skipped, 1 dead-lettered (permanent) | total 10 applied, 3 skipped, 4 dead letters` */
export function formatTallyLine({ handler, topic, partition, batch, totals }: TallyLine, deadLetterSuffix: string): string {
  const parts: string[] = [];
  if (batch.applied) parts.push(`+${batch.applied} applied`);
  if (batch.technicalDuplicates) parts.push(`${plural(batch.technicalDuplicates, "technical duplicate")} skipped`);
  const reasons = Object.entries(batch.deadLetters).map(([r, n]) => `${n} ${r}`);
  if (reasons.length) parts.push(`${letters(batch)} → ${topic}${deadLetterSuffix} (${reasons.join(", ")})`);
  return `${handler} ${topic}[${partition}]: ${parts.join(", ")}  | total ${totals.applied} applied, ${totals.technicalDuplicates} skipped, ${plural(letters(totals), "dead letter")}`;
}
