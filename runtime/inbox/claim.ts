import type { TransactionSql } from "postgres";
import { claimInboxAndKeys, readKeyHolders } from "../db/sql/claim.ts";
import type { BusinessKeyError } from "../errors.ts";
import type { LoadedHandler } from "../handlers/validate.ts";
import { businessKeyOf } from "./business-key.ts";
import type { EventResult, UnitEvent } from "./unit-event.ts";

export interface Claim {
  /** Indexes of the events that may run the handler, in offset order. */
  runnable: number[];
  /** Event ids whose inbox rows must be marked dead-lettered (functional duplicates, rejected keys). */
  deadLettered: string[];
}

/**
 * Claims a batch's events for a handler: new event ids get their inbox row, new events their
 * business key. Fills `results` for duplicates and rejected keys; returns who may run.
 */
export async function claimEvents(tx: TransactionSql, handler: LoadedHandler, events: UnitEvent[], results: EventResult[]): Promise<Claim> {
  if (events.length === 0) return { runnable: [], deadLettered: [] };
  const { topic, partition } = events[0]!.meta;
  // An event id repeated within the batch (a producer retry landing next to its original) is
  // claimed once, by its first copy; the others stay technical duplicates.
  const firstIndexById = new Map<string, number>();
  const candidates: number[] = [];
  const ids: string[] = [];
  const offsets: string[] = [];
  for (let i = 0; i < events.length; i++) {
    const meta = events[i]!.meta;
    if (meta.topic !== topic || meta.partition !== partition)
      throw new Error(`a claim holds events of one partition; ${meta.topic}:${meta.partition} is not ${topic}:${partition}`);
    if (firstIndexById.has(meta.id)) continue;
    firstIndexById.set(meta.id, i);
    candidates.push(i);
    ids.push(meta.id);
    offsets.push(meta.offset);
  }
  // Keys are computed before freshness is known; a rejected key only counts for an event that turns out new.
  const keyOf = new Array<string | undefined>(events.length);
  const keyRejected = new Map<number, BusinessKeyError>();
  const keys: string[] = [];
  const keyIds: string[] = [];
  if (handler.businessKey) {
    for (const i of candidates) {
      try {
        const key = businessKeyOf(handler, events[i]!);
        keyOf[i] = key;
        keys.push(key);
        keyIds.push(events[i]!.meta.id);
      } catch (e) {
        keyRejected.set(i, e as BusinessKeyError);
      }
    }
  }
  const rows = await claimInboxAndKeys(tx, handler.name, { topic, partition, ids, offsets }, { keys, ids: keyIds });

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
    const key = keyOf[i];
    if (key !== undefined && !firstByKey.has(key)) firstByKey.set(key, i);
  }
  const missing = [...taken].filter((k) => !holders.has(k));
  if (missing.length > 0) {
    // Taken by a transaction that committed after our statement's snapshot: read it now.
    for (const r of await readKeyHolders(tx, handler.name, missing)) holders.set(r.business_key, r.event_id);
  }
  const runnable: number[] = [];
  const deadLettered: string[] = [];
  for (const i of fresh) {
    const id = events[i]!.meta.id;
    const key = keyOf[i];
    if (key === undefined) {
      results[i] = { kind: "key-rejected", error: keyRejected.get(i)! };
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
