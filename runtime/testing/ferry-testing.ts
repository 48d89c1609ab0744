/**
 * The module `ferry/testing` that handler tests import (`ferry test` serves it, as the binary
 * serves `ferry` to handlers). Tests of Ferry itself import runtime/testing/harness.ts directly.
 */
export { createHarness } from "./harness.ts";
export type { EventOutcome, HarnessOptions, TestEvent, TestHarness } from "./harness.ts";
