/**
 * The event id of an event a handler publishes: a name-based UUID (RFC 9562 version 5, SHA-1)
 * of the handler's identity, the event it was handling and the position of the publish within
 * that call. Pure: the same call, retried or replayed, derives the same ids, so a downstream
 * inbox sees a second copy as a technical duplicate, never as a new event.
 */
import { createHash } from "node:crypto";

/** Ferry's namespace for outbox event ids (a random UUID, fixed forever: changing it changes every id). */
const NAMESPACE = Buffer.from("5f0e3c1a9b2d4e6f8a7b6c5d4e3f2a1b", "hex");

export interface PublishOrigin {
  /** The handler's consumer group (`<group-prefix>.<handler>`): unique per service and handler. */
  groupId: string;
  /** The event id of the event being handled when `publish` was called. */
  sourceEventId: string;
  /** 0 for the first publish for that event within the call, 1 for the next, ... */
  position: number;
}

export function outboxEventId({ groupId, sourceEventId, position }: PublishOrigin): string {
  // Lengths first: no choice of names can make two different origins hash the same bytes.
  const name = `${groupId.length}:${groupId}|${sourceEventId.length}:${sourceEventId}|${position}`;
  const hash = createHash("sha1").update(NAMESPACE).update(name, "utf8").digest();
  hash[6] = (hash[6]! & 0x0f) | 0x50; // version 5
  hash[8] = (hash[8]! & 0x3f) | 0x80; // RFC 9562 variant
  const hex = hash.subarray(0, 16).toString("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
