/** Settings of `ferry/testing`: where its fresh databases live, and the worker settings it runs events with. */
import { tmpdir } from "node:os";
import path from "node:path";
import * as v from "valibot";
import { parseSettings } from "./load.ts";
import { DEFAULT_BATCH_SIZE, settingsSchema } from "./schema.ts";

const testingSchema = v.object({
  ...v.pick(settingsSchema, ["FERRY_GROUP_PREFIX", "FERRY_BATCH_SIZE", "FERRY_EVENT_ID_HEADER", "FERRY_MISSING_EVENT_ID", "FERRY_DEAD_LETTER_SUFFIX"]).entries,
  FERRY_TEST_CACHE_DIR: v.optional(v.pipe(v.string(), v.trim(), v.minLength(1))),
  FERRY_TEST_DATABASE_URL: v.optional(v.pipe(v.string(), v.trim(), v.regex(/^postgres(ql)?:\/\//, "FERRY_TEST_DATABASE_URL must be a postgres:// URL"))),
});

export interface TestingConfig {
  /** A PostgreSQL server to create each harness's fresh database on; absent: PGlite in memory. */
  databaseUrl?: string;
  /** Where the PGlite database with Ferry's migrations applied is kept between runs. */
  cacheDir: string;
  groupPrefix: string;
  batchSize: number;
  eventIdHeader: string;
  missingEventId: "dead-letter" | "derive";
  deadLetterSuffix: string;
}

export function loadTestingConfig(source: Record<string, string | undefined>): TestingConfig {
  const s = parseSettings(testingSchema, source);
  return {
    ...(s.FERRY_TEST_DATABASE_URL ? { databaseUrl: s.FERRY_TEST_DATABASE_URL } : {}),
    cacheDir: s.FERRY_TEST_CACHE_DIR ?? path.join(tmpdir(), "ferry-testing"),
    groupPrefix: s.FERRY_GROUP_PREFIX,
    batchSize: s.FERRY_BATCH_SIZE ?? DEFAULT_BATCH_SIZE,
    eventIdHeader: s.FERRY_EVENT_ID_HEADER,
    missingEventId: s.FERRY_MISSING_EVENT_ID,
    deadLetterSuffix: s.FERRY_DEAD_LETTER_SUFFIX,
  };
}
