import { expect, test } from "bun:test";
import { parseTraceparent, traceFieldsOf } from "./traceparent.ts";

const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
const spanId = "00f067aa0ba902b7";

test.each([
  [`00-${traceId}-${spanId}-01`, { traceId, spanId, traceFlags: 1, isRemote: true }],
  [`00-${traceId}-${spanId}-00`, { traceId, spanId, traceFlags: 0, isRemote: true }],
  [` 00-${traceId}-${spanId}-01 `, { traceId, spanId, traceFlags: 1, isRemote: true }],
  [`01-${traceId}-${spanId}-03-future`, { traceId, spanId, traceFlags: 1, isRemote: true }],
  [`00-${traceId}-${spanId}-01-extra`, null],
  [`ff-${traceId}-${spanId}-01`, null],
  [`00-${"0".repeat(32)}-${spanId}-01`, null],
  [`00-${traceId}-${"0".repeat(16)}-01`, null],
  [`00-${traceId.toUpperCase()}-${spanId}-01`, null],
  ["garbage", null],
  [undefined, null],
])("parseTraceparent(%p)", (header, expected) => {
  expect(parseTraceparent(header)).toEqual(expected);
});

test("traceFieldsOf gives the trace id for logs, nothing without a header", () => {
  expect(traceFieldsOf({ traceparent: `00-${traceId}-${spanId}-01` })).toEqual({ traceId });
  expect(traceFieldsOf({})).toEqual({});
});
