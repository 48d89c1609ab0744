/** Settings of `ferry dev` (on top of `ferry run`'s, which startDev validates with loadConfig) and `ferry new`. */
import * as v from "valibot";
import { parseSettings } from "./load.ts";
import { settingsSchema } from "./schema.ts";

const devSchema = v.object({
  ...v.pick(settingsSchema, ["FERRY_SCHEMAS_DIR"]).entries,
  FERRY_DEV_DATA_DIR: v.optional(v.pipe(v.string(), v.trim(), v.minLength(1)), ".ferry-dev"),
  FERRY_DEV_RESET: v.optional(v.picklist(["true", "false"], "FERRY_DEV_RESET must be true or false"), "false"),
  FERRY_DEV_FORMAT: v.optional(v.picklist(["text", "json"], "FERRY_DEV_FORMAT must be text or json"), "text"),
  FERRY_PRODUCE_DEMO: v.optional(v.picklist(["true", "false"], "FERRY_PRODUCE_DEMO must be true or false"), "false"),
});

export interface DevConfig {
  dataDir: string;
  schemasDir: string;
  reset: boolean;
  format: "text" | "json";
  /** `ferry produce --demo`: send the demo stream (to the `ferry dev` of dataDir unless brokers are given). */
  demo: boolean;
}

export function loadDevConfig(source: Record<string, string | undefined>): DevConfig {
  const s = parseSettings(devSchema, source);
  return {
    dataDir: s.FERRY_DEV_DATA_DIR,
    schemasDir: s.FERRY_SCHEMAS_DIR,
    reset: s.FERRY_DEV_RESET === "true",
    format: s.FERRY_DEV_FORMAT,
    demo: s.FERRY_PRODUCE_DEMO === "true",
  };
}

const newSchema = v.object({
  ...v.pick(settingsSchema, ["FERRY_SCHEMAS_DIR"]).entries,
  FERRY_HANDLERS_DIR: v.optional(v.pipe(v.string(), v.trim(), v.minLength(1)), "handlers"),
  FERRY_NEW_TOPIC: v.optional(v.pipe(v.string(), v.trim(), v.minLength(1))),
  FERRY_NEW_EVENT: v.optional(v.pipe(v.string(), v.trim(), v.minLength(1))),
  FERRY_NEW_FORMAT: v.optional(v.picklist(["text", "json"], "FERRY_NEW_FORMAT must be text or json"), "text"),
});

/** `ferry new handler`: where to write, and the names the defaults do not give. */
export function loadNewConfig(source: Record<string, string | undefined>): {
  handlersDir: string;
  schemasDir: string;
  topic?: string;
  event?: string;
  format: "text" | "json";
} {
  const s = parseSettings(newSchema, source);
  return {
    handlersDir: s.FERRY_HANDLERS_DIR,
    schemasDir: s.FERRY_SCHEMAS_DIR,
    ...(s.FERRY_NEW_TOPIC ? { topic: s.FERRY_NEW_TOPIC } : {}),
    ...(s.FERRY_NEW_EVENT ? { event: s.FERRY_NEW_EVENT } : {}),
    format: s.FERRY_NEW_FORMAT,
  };
}
