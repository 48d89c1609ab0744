/**
 * `ferry produce` input: one JSON document per line. Plain: each line is the event's value, the
 * key taken from `keyField`. Envelope: each line is { value, key?, eventId?, headers? }.
 * Pure; a bad line is an error naming its line number.
 */
import * as v from "valibot";
import { FerryError } from "../errors.ts";
import type { AvroEvent } from "./avro-producer.ts";

const envelopeSchema = v.strictObject(
  {
    value: v.unknown(),
    key: v.optional(v.nullable(v.string())),
    eventId: v.optional(v.pipe(v.string(), v.regex(/^[\x21-\x7e]{1,200}$/, "`eventId` must be 1-200 printable ASCII characters without spaces"))),
    headers: v.optional(v.record(v.string(), v.string())),
  },
  "an envelope line is { value, key?, eventId?, headers? } (string key, eventId and header values)",
);

export function parseJsonLines(text: string, { envelope = false, keyField }: { envelope?: boolean; keyField?: string } = {}): AvroEvent[] {
  const events: AvroEvent[] = [];
  text.split("\n").forEach((raw, i) => {
    const line = raw.trim();
    if (line === "") return;
    const where = `input line ${i + 1}`;
    let json: unknown;
    try {
      json = JSON.parse(line);
    } catch (e) {
      throw new FerryError(`${where} is not valid JSON: ${(e as Error).message}`);
    }
    let event: AvroEvent;
    if (envelope) {
      const parsed = v.safeParse(envelopeSchema, json);
      if (!parsed.success) throw new FerryError(`${where}: ${parsed.issues.map((issue) => issue.message).join("; ")}`);
      const { value, key, eventId, headers } = parsed.output;
      event = { value, ...(key !== undefined ? { key } : {}), ...(eventId ? { eventId } : {}), ...(headers ? { headers } : {}) };
    } else {
      event = { value: json };
    }
    if (keyField !== undefined && event.key === undefined) {
      const key = (event.value as Record<string, unknown> | null)?.[keyField];
      if (typeof key !== "string" && typeof key !== "number") throw new FerryError(`${where}: the key field \`${keyField}\` is missing or not a string/number`);
      event.key = String(key);
    }
    events.push(event);
  });
  return events;
}
