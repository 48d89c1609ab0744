import type { TransactionSql } from "postgres";
import { run } from "./run.ts";

/** The events of one partition a claim is for: ids and offsets in the same order. */
export interface ClaimCandidates {
  topic: string;
  partition: number;
  ids: string[];
  offsets: string[];
}

export type ClaimException = { kind: "seen" | "taken" | "held"; event_id: string; business_key: string | null };

/**
 * Inbox rows (technical dedup) and business keys (functional dedup) for a batch in ONE statement:
 * the business keys are claimed only for the events whose inbox row was new, the first such event
 * per key winning. It returns only the exceptions — ids seen before, keys already taken and who
 * holds them — so a batch of new events costs one round trip and an empty result.
 *
 * Rows are inserted in key order: two partitions claiming overlapping keys then lock them in the
 * same order and wait for each other instead of deadlocking.
 */
export function claimInboxAndKeys(
  tx: TransactionSql,
  handler: string,
  candidates: ClaimCandidates,
  keys: { keys: string[]; ids: string[] },
): Promise<ClaimException[]> {
  return run(tx<ClaimException[]>`
    with c as (
      select * from unnest(${candidates.ids}::text[], ${candidates.offsets}::bigint[]) as c(id, off)
    ), ins as (
      insert into ferry_inbox (handler, event_id, topic, partition, "offset", outcome)
      select ${handler}, id, ${candidates.topic}, ${candidates.partition}::int, off, 'applied' from c order by id
      on conflict do nothing
      returning event_id
    ), k as (
      select * from unnest(${keys.keys}::text[], ${keys.ids}::text[]) with ordinality as k(key, id, ord)
    ), winner as (
      select distinct on (k.key) k.key, k.id from k join ins on ins.event_id = k.id order by k.key, k.ord
    ), claimed as (
      insert into ferry_business_keys (handler, business_key, event_id)
      select ${handler}, key, id from winner order by key
      on conflict do nothing
      returning business_key
    ), taken as (
      select key, id from winner where key not in (select business_key from claimed)
    )
    select 'seen' as kind, id as event_id, null::text as business_key from c where id not in (select event_id from ins)
    union all
    select 'taken', id, key from taken
    union all
    -- Holders committed before this statement began; one committed since is read by readKeyHolders.
    select 'held', b.event_id, b.business_key from ferry_business_keys b
    where b.handler = ${handler} and b.business_key in (select key from taken)`);
}

/** Who holds these business keys now (taken by transactions that committed after the claim's snapshot). */
export function readKeyHolders(tx: TransactionSql, handler: string, keys: string[]): Promise<Array<{ business_key: string; event_id: string }>> {
  return run(tx<{ business_key: string; event_id: string }[]>`
    select business_key, event_id from ferry_business_keys
    where handler = ${handler} and business_key = any(${keys}::text[])`);
}
