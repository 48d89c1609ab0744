import type { EventMeta } from "../handlers/contract.ts";
import type { BusinessKeyError } from "../errors.ts";

/** An event that passed preparation: it has an id and a decoded value. */
export interface UnitEvent {
  meta: EventMeta;
  value: unknown;
}

/** The two outcomes almost every event has, shared: a batch allocates no result object per event. */
export const APPLIED: EventResult = Object.freeze({ kind: "applied" });
export const TECHNICAL_DUPLICATE: EventResult = Object.freeze({ kind: "technical-duplicate" });

/** What became of one event in a unit of work that committed. */
export type EventResult =
  | { kind: "applied" }
  | { kind: "technical-duplicate" }
  | { kind: "functional-duplicate"; businessKey: string; heldBy: string }
  | { kind: "key-rejected"; error: BusinessKeyError };
