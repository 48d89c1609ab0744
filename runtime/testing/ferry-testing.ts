/**
 * The module `ferry/testing` that handler tests import (`ferry test` serves it, as the binary
 * serves `ferry` to handlers). Tests of Ferry itself import runtime/testing/harness.ts directly.
 */
export { createHarness } from "./harness.ts";
export type { EventOutcome, HarnessOptions, TestEvent, TestHarness } from "./harness.ts";
/** postgres.js on a database URL (ferry dev's, for instance): the driver the harness runs on, no node_modules needed. */
export { connectDatabase as connect } from "../db/connect.ts";
