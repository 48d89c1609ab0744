/**
 * The schema registry connection settings, shared by `ferry run` (Avro handlers), `ferry schemas`
 * and `ferry produce`.
 */
import { ConfigError } from "../errors.ts";
import type { Settings } from "./schema.ts";

export interface RegistrySettings {
  url: string;
  auth?: { username: string; password: string };
  /** Paths of PEM files, read when the client is created. */
  tls?: { caFile?: string; certFile?: string; keyFile?: string; rejectUnauthorized: boolean };
  timeoutMs: number;
  retries: number;
}

export const registrySettingNames = [
  "FERRY_SCHEMA_REGISTRY_URL",
  "FERRY_SCHEMA_REGISTRY_USERNAME",
  "FERRY_SCHEMA_REGISTRY_PASSWORD",
  "FERRY_SCHEMA_REGISTRY_PASSWORD_FILE",
  "FERRY_SCHEMA_REGISTRY_CA_FILE",
  "FERRY_SCHEMA_REGISTRY_CERT_FILE",
  "FERRY_SCHEMA_REGISTRY_KEY_FILE",
  "FERRY_SCHEMA_REGISTRY_TLS_VERIFY",
  "FERRY_SCHEMA_REGISTRY_TIMEOUT_MS",
  "FERRY_SCHEMA_REGISTRY_RETRIES",
  "FERRY_SCHEMA_SUBJECT_STRATEGY",
] as const;

type RegistrySettingsInput = Pick<Settings, (typeof registrySettingNames)[number]>;

/** The registry connection, or undefined when no URL is set. Username and password come as a pair. */
export function registrySettings(s: RegistrySettingsInput): RegistrySettings | undefined {
  if (!s.FERRY_SCHEMA_REGISTRY_URL) return undefined;
  if (Boolean(s.FERRY_SCHEMA_REGISTRY_USERNAME) !== Boolean(s.FERRY_SCHEMA_REGISTRY_PASSWORD)) {
    throw new ConfigError(["FERRY_SCHEMA_REGISTRY_USERNAME and FERRY_SCHEMA_REGISTRY_PASSWORD are set together (basic auth) or not at all"]);
  }
  const verify = s.FERRY_SCHEMA_REGISTRY_TLS_VERIFY === "true";
  const files = { caFile: s.FERRY_SCHEMA_REGISTRY_CA_FILE, certFile: s.FERRY_SCHEMA_REGISTRY_CERT_FILE, keyFile: s.FERRY_SCHEMA_REGISTRY_KEY_FILE };
  const anyTls = Object.values(files).some(Boolean) || !verify;
  return {
    url: s.FERRY_SCHEMA_REGISTRY_URL,
    ...(s.FERRY_SCHEMA_REGISTRY_USERNAME ? { auth: { username: s.FERRY_SCHEMA_REGISTRY_USERNAME, password: s.FERRY_SCHEMA_REGISTRY_PASSWORD! } } : {}),
    ...(anyTls ? { tls: { ...stripUndefined(files), rejectUnauthorized: verify } } : {}),
    timeoutMs: s.FERRY_SCHEMA_REGISTRY_TIMEOUT_MS,
    retries: s.FERRY_SCHEMA_REGISTRY_RETRIES,
  };
}

function stripUndefined<T extends object>(o: T): { [K in keyof T]?: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(o).filter(([, val]) => val !== undefined)) as never;
}
