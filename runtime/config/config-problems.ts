/** For the settings' tests: the smallest valid `ferry run` environment, and the problems a load reports. */
import { ConfigError } from "../errors.ts";

export const minimalRunEnv = {
  FERRY_KAFKA_BROKERS: "127.0.0.1:9092",
  FERRY_DATABASE_URL: "postgres://postgres@127.0.0.1:5432/app",
  FERRY_HANDLERS_DIR: "./handlers",
};

/** The issues of the ConfigError `load` throws; fails when it throws nothing or something else. */
export function configProblems(load: () => unknown): string[] {
  try {
    load();
  } catch (e) {
    if (e instanceof ConfigError) return e.issues;
    throw e;
  }
  throw new Error("expected a ConfigError");
}
