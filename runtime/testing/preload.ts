/**
 * Preloaded into `bun test` by `ferry test`: serves `ferry`, `ferry/testing`, `ferry/drizzle`,
 * `ferry/pg-core` and `ferry/otel` to the test files and the handlers they load. scripts/build.ts
 * bundles it into one file the binary carries; from source, `bun test --preload` takes it as it is.
 */
import { registerFerryTestingModule } from "../handlers/virtual-module.ts";
import * as testing from "./ferry-testing.ts";

registerFerryTestingModule(testing);

// `ferry test` runs the binary as Bun (BUN_BE_BUN=1). A test that starts `ferry dev` or `ferry run`
// must get Ferry, not Bun: the switch is for this process only.
delete process.env.BUN_BE_BUN;
