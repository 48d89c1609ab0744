import { expect, test } from "bun:test";
import { redactEventData } from "./redact.ts";

test("the event's values, key and headers are taken out of a message; its wording stays", () => {
  const event = {
    value: { card: "4111111111111111", nested: [{ name: "Jane Doe" }], amount: 123456 },
    key: "customer-77",
    headers: { "x-customer": "c-0042" },
  };
  const message = `cannot apply {"card":"4111111111111111","name":"Jane Doe"} for customer-77 (c-0042), amount 123456`;
  expect(redactEventData(message, [event])).toBe('cannot apply {"card":"‹redacted›","name":"‹redacted›"} for ‹redacted› (‹redacted›), amount ‹redacted›');
});

test("PostgreSQL quoting the value it refused", () => {
  expect(redactEventData('invalid input syntax for type integer: "12x" [SQLSTATE 22P02]', [{ value: { amount: "12x" } }])).toBe(
    'invalid input syntax for type integer: "12x" [SQLSTATE 22P02]',
  );
  expect(redactEventData('invalid input syntax for type integer: "12-x" [SQLSTATE 22P02]', [{ value: { amount: "12-x" } }])).toBe(
    'invalid input syntax for type integer: "‹redacted›" [SQLSTATE 22P02]',
  );
});

test("a longer fragment is taken out whole, before the shorter ones inside it", () => {
  expect(redactEventData("order-1234-eu failed", [{ value: { id: "order-1234-eu", short: "1234" } }])).toBe("‹redacted› failed");
});

test("a message without event data is untouched", () => {
  expect(redactEventData('relation "orders" does not exist', [{ value: { n: 1, note: "xyzw" } }])).toBe('relation "orders" does not exist');
});
