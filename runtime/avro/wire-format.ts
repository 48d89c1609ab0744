/**
 * Confluent's wire format: magic byte 0, the writer schema's registry id as a 4-byte big-endian
 * integer, then the Avro binary encoding of the value. Pure functions, no registry.
 */
import { DecodeError } from "../errors.ts";

export const magicByte = 0;
export const headerLength = 5;

/** Prefixes an Avro payload with the magic byte and the schema id. */
export function frame(schemaId: number, payload: Buffer): Buffer {
  if (!Number.isInteger(schemaId) || schemaId < 0 || schemaId > 0xffff_ffff) {
    throw new RangeError(`schema id ${schemaId} does not fit the wire format's 4 unsigned bytes`);
  }
  const out = Buffer.allocUnsafe(headerLength + payload.length);
  out.writeUInt8(magicByte, 0);
  out.writeUInt32BE(schemaId, 1);
  payload.copy(out, headerLength);
  return out;
}

/** The schema id a framed value names, or null when the value is not framed (too short, other first byte). */
export function peekSchemaId(value: Buffer | null): number | null {
  if (value === null || value.length < headerLength || value[0] !== magicByte) return null;
  return value.readUInt32BE(1);
}

/** Splits a framed value into schema id and payload; a value that is not framed is a DecodeError saying why. */
export function unframe(value: Buffer): { schemaId: number; payload: Buffer } {
  if (value.length === 0) {
    throw new DecodeError("empty-value", "the record has no value; a tombstone or empty payload cannot be handled as an event");
  }
  if (value[0] !== magicByte) {
    throw new DecodeError(
      "bad-magic-byte",
      `the value starts with byte 0x${value[0]!.toString(16).padStart(2, "0")}, not the magic byte 0x00 of the schema-registry wire format: it was not written by an Avro serializer (ferry produce, Confluent's AvroSerializer)`,
    );
  }
  if (value.length < headerLength) {
    throw new DecodeError(
      "truncated-header",
      `the value has ${value.length} bytes; the wire format needs ${headerLength} (magic byte and 4-byte schema id) before the Avro payload`,
    );
  }
  return { schemaId: value.readUInt32BE(1), payload: value.subarray(headerLength) };
}
