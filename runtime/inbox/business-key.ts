/**
 * An event's business key, as text PostgreSQL can store and compare. Checked before it reaches
 * the database, so a key PostgreSQL would refuse is dead-lettered at once (no round trip, no
 * narrowing) and two different keys can never be stored as the same text.
 */
import { BusinessKeyError, coerceError } from "../errors.ts";
import type { LoadedHandler } from "../handlers/validate.ts";
import type { UnitEvent } from "./unit-event.ts";

/**
 * The longest business key, in bytes of UTF-8. PostgreSQL's btree index rows (the key's primary
 * key) hold at most ~2,700 bytes of what does not compress; 2,048 leaves room for the handler's
 * name beside it whatever the key's content.
 */
export const MAX_BUSINESS_KEY_BYTES = 2_048;

/**
 * The handler's business key for an event. Throws BusinessKeyError: `business-key-failed` when
 * `businessKey` threw or returned no usable key, `unstorable-business-key` when the key is text
 * PostgreSQL cannot store as it is. A missing key must not be coerced: String(undefined) is
 * "undefined", so every event lacking the field would share one key.
 */
export function businessKeyOf(handler: LoadedHandler, event: UnitEvent): string {
  let key: unknown;
  try {
    key = handler.businessKey!(event.value, event.meta);
  } catch (e) {
    const error = coerceError(e);
    throw new BusinessKeyError("business-key-failed", `businessKey threw for event ${event.meta.id}: ${error.message}`, { cause: error });
  }
  if (typeof key === "number" && Number.isInteger(key) && !Number.isSafeInteger(key)) {
    // JSON.parse turned the sender's number into the nearest double: 9007199254740993 arrives as
    // ...992, and two different ids would share one key.
    throw new BusinessKeyError(
      "business-key-failed",
      `businessKey returned ${key} for event ${event.meta.id}: an integer beyond 2^53 has lost its precision and may not be the sender's value; send such ids as strings`,
    );
  }
  if (typeof key === "number" && Number.isFinite(key)) return String(key);
  if (typeof key === "bigint") return String(key);
  if (typeof key !== "string" || key.length === 0) {
    const got =
      key === null
        ? "null"
        : key === ""
          ? "an empty string"
          : typeof key === "number"
            ? String(key)
            : typeof key === "object"
              ? Array.isArray(key)
                ? "an array"
                : "an object"
              : typeof key;
    const binaryKey = key === null && event.meta.key === null && event.meta.keyBytes !== null;
    throw new BusinessKeyError(
      "business-key-failed",
      `businessKey returned ${got} for event ${event.meta.id}; it must return a non-empty string (or a finite number)` +
        (binaryKey ? "; the record's Kafka key is not valid UTF-8 text, so meta.key is null (meta.keyBytes has its bytes)" : ""),
    );
  }
  return storable(key, event.meta.id);
}

function storable(key: string, eventId: string): string {
  const nul = key.indexOf("\u0000");
  if (nul >= 0) {
    throw new BusinessKeyError(
      "unstorable-business-key",
      `the business key of event ${eventId} contains U+0000 at character ${nul}: PostgreSQL text cannot hold it`,
    );
  }
  // A lone surrogate would be sent as U+FFFD: two different keys could become the same text.
  if (!key.isWellFormed()) {
    throw new BusinessKeyError(
      "unstorable-business-key",
      `the business key of event ${eventId} contains a lone UTF-16 surrogate: it is not valid Unicode text, and storing it would replace it`,
    );
  }
  const bytes = Buffer.byteLength(key, "utf8");
  if (bytes > MAX_BUSINESS_KEY_BYTES) {
    throw new BusinessKeyError(
      "unstorable-business-key",
      `the business key of event ${eventId} is ${bytes} bytes of UTF-8; at most ${MAX_BUSINESS_KEY_BYTES} fit PostgreSQL's index on business keys`,
    );
  }
  return key;
}
