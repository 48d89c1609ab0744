import type { TransactionSql } from "postgres";
import type { LoadedHandler } from "../handlers/validate.ts";
import { coerceError } from "../errors.ts";
import { businessKeyOf, type EventResult, type UnitEvent } from "./unit-of-work.ts";

export interface Claim {
  /** Indexes of the events that may run the handler, in offset order. */
  runnable: number[];
  /** Event ids whose inbox rows must be marked dead-lettered (functional duplicates, failed keys). */
  deadLettered: string[];
}

type ExceptionRow = { kind: "seen" | "taken" | "held"; event_id: string; business_key: string | null };

/**
 * Inbox rows (technical dedup) and business keys (functional dedup) for a batch in ONE statement:
 * the business keys are claimed only for the events whose inbox row was new, the first such event
 * per key winning. It returns only the exceptions — ids seen before, keys already taken and who
 * holds them — so a batch of new events costs one round trip and an empty result. Fills `results`
 * for duplicates and failed keys.
 */
export async function claimEvents(tx: TransactionSql, handler: LoadedHandler, events: UnitEvent[], results: EventResult[]): Promise<Claim> {
  if (events.length === 0) return { runnable: [], deadLettered: [] };
  const firstIndexById = new Map<string, number>();
  events.forEach((e, i) => {
    if (!firstIndexById.has(e.meta.id)) firstIndexById.set(e.meta.id, i);
  });
  const candidates = [...firstIndexById.values()];
  // Keys are computed before freshness is known; a failure only counts for an event that turns out new.
  const keyOf = new Map<number, string>();
  const keyFailure = new Map<number, Error>();
  if (handler.businessKey) {
    for (const i of candidates) {
      const event = events[i]!;
      try {
        keyOf.set(i, businessKeyOf(handler, event));
      } catch (e) {
        keyFailure.set(i, coerceError(e));
      }
    }
  }
  const keyed = candidates.filter((i) => keyOf.has(i));
  const rows = await tx<ExceptionRow[]>`
    with c as (
      select * from unnest(${candidates.map((i) => events[i]!.meta.id)}::text[], ${candidates.map((i) => events[i]!.meta.topic)}::text[],
                           ${candidates.map((i) => events[i]!.meta.partition)}::int[], ${candidates.map((i) => events[i]!.meta.offset)}::bigint[])
        as c(id, topic, part, off)
    ), ins as (
      insert into ferry_inbox (handler, event_id, topic, partition, "offset", outcome)
      select ${handler.name}, id, topic, part, off, 'applied' from c
      on conflict do nothing
      returning event_id
    ), k as (
      select * from unnest(${keyed.map((i) => keyOf.get(i)!)}::text[], ${keyed.map((i) => events[i]!.meta.id)}::text[]) with ordinality as k(key, id, ord)
    ), winner as (
      select distinct on (k.key) k.key, k.id from k join ins on ins.event_id = k.id order by k.key, k.ord
    ), claimed as (
      insert into ferry_business_keys (handler, business_key, event_id)
      select ${handler.name}, key, id from winner
      on conflict do nothing
      returning business_key
    ), taken as (
      select key, id from winner where key not in (select business_key from claimed)
    )
    select 'seen' as kind, id as event_id, null::text as business_key from c where id not in (select event_id from ins)
    union all
    select 'taken', id, key from taken
    union all
    -- Holders committed before this statement began; one committed since is looked up below.
    select 'held', b.event_id, b.business_key from ferry_business_keys b
    where b.handler = ${handler.name} and b.business_key in (select key from taken)`;

  const seen = new Set<string>();
  const taken = new Set<string>();
  const holders = new Map<string, string>();
  for (const r of rows) {
    if (r.kind === "seen") seen.add(r.event_id);
    else if (r.kind === "taken") taken.add(r.business_key!);
    else holders.set(r.business_key!, r.event_id);
  }
  const fresh = candidates.filter((i) => !seen.has(events[i]!.meta.id));
  if (!handler.businessKey) return { runnable: fresh, deadLettered: [] };

  const firstByKey = new Map<string, number>();
  for (const i of fresh) {
    const key = keyOf.get(i);
    if (key !== undefined && !firstByKey.has(key)) firstByKey.set(key, i);
  }
  const missing = [...taken].filter((k) => !holders.has(k));
  if (missing.length > 0) {
    // Taken by a transaction that committed after our statement's snapshot: read it now.
    const late = await tx<{ business_key: string; event_id: string }[]>`
      select business_key, event_id from ferry_business_keys
      where handler = ${handler.name} and business_key = any(${missing}::text[])`;
    for (const r of late) holders.set(r.business_key, r.event_id);
  }
  const runnable: number[] = [];
  const deadLettered: string[] = [];
  for (const i of fresh) {
    const id = events[i]!.meta.id;
    const key = keyOf.get(i);
    if (key === undefined) {
      results[i] = { kind: "business-key-failed", error: keyFailure.get(i)! };
      deadLettered.push(id);
      continue;
    }
    const winner = firstByKey.get(key)!;
    if (!taken.has(key) && winner === i) {
      runnable.push(i);
      continue;
    }
    const heldBy = taken.has(key) ? holders.get(key) : events[winner]!.meta.id;
    if (heldBy === undefined) {
      // The key row vanished between our insert and select: nothing deletes keys while workers run.
      throw new Error(`business key "${key}" of handler ${handler.name} is neither free nor held; retrying the batch`);
    }
    // Held by this very event id: applied before (its inbox row was pruned since), so a technical duplicate.
    if (heldBy === id) continue;
    results[i] = { kind: "functional-duplicate", businessKey: key, heldBy };
    deadLettered.push(id);
  }
  return { runnable, deadLettered };
}
