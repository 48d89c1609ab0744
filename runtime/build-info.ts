/**
 * What this binary is: Ferry's version, the commit it was built from (embedded by scripts/build.ts;
 * "unknown" when run from source), and the Bun and librdkafka inside it.
 */
import { version } from "./cli/usage.ts";

// Replaced by scripts/build.ts (Bun.build `define`); absent when running from source.
declare const FERRY_BUILD_COMMIT: string | undefined;

export interface BuildInfo {
  version: string;
  commit: string;
  bun: string;
  librdkafka: string;
}

export const buildCommit: string = typeof FERRY_BUILD_COMMIT === "string" && FERRY_BUILD_COMMIT ? FERRY_BUILD_COMMIT : "unknown";

export function buildInfo(librdkafka: string): BuildInfo {
  return { version, commit: buildCommit, bun: Bun.version, librdkafka };
}
