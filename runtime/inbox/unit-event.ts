import type { EventMeta } from "../handlers/contract.ts";
import type { BusinessKeyError } from "../errors.ts";

/** An event that passed preparation: it has an id and a decoded value. */
export interface UnitEvent {
  meta: EventMeta;
  value: unknown;
}

/** What became of one event in a unit of work that committed. */
export type EventResult =
  | { kind: "applied" }
  | { kind: "technical-duplicate" }
  | { kind: "functional-duplicate"; businessKey: string; heldBy: string }
  | { kind: "key-rejected"; error: BusinessKeyError };
