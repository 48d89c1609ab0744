/**
 * Secrets from files: every secret setting FERRY_X may instead be given as FERRY_X_FILE, the path
 * of a file holding it (a mounted Kubernetes or Docker secret). The file is read here, at the
 * config edge, before the schema sees the value, so the value passes the same checks as when it
 * is set directly. Trailing line breaks are dropped (`echo` and editors add one).
 */
import { readFileSync } from "node:fs";

/** Settings whose values are secrets: they may come from a file, and no message ever shows them. */
export const secretSettings = [
  "FERRY_KAFKA_SASL_PASSWORD",
  "FERRY_KAFKA_SSL_KEY_PASSWORD",
  "FERRY_DATABASE_URL",
  "FERRY_ADMIN_TOKEN",
  "FERRY_SCHEMA_REGISTRY_PASSWORD",
] as const;

export type SecretSetting = (typeof secretSettings)[number];

export const fileVariant = (name: SecretSetting) => `${name}_FILE` as const;

type ReadFile = (path: string) => string;

/**
 * Replaces each `FERRY_X_FILE` among `wanted` by `FERRY_X` with the file's contents. Returns the
 * new input and one problem per file that cannot be used; a setting given both ways is a problem
 * too (which one should win is not for Ferry to guess).
 */
export function resolveSecretFiles(
  input: Record<string, string>,
  wanted: (name: string) => boolean,
  read: ReadFile = (path) => readFileSync(path, "utf8"),
): { input: Record<string, string>; issues: string[] } {
  const out = { ...input };
  const issues: string[] = [];
  for (const name of secretSettings) {
    const fileName = fileVariant(name);
    const path = input[fileName]?.trim();
    if (!path || !wanted(name)) continue;
    if (input[name] !== undefined) {
      issues.push(`${name} and ${fileName} are both set: set only one of them`);
      continue;
    }
    let text: string;
    try {
      text = read(path);
    } catch (e) {
      issues.push(`${fileName}=${path} cannot be read: ${describeReadError(e)}`);
      continue;
    }
    const value = text.replace(/[\r\n]+$/, "");
    if (value === "") {
      issues.push(`${fileName}=${path} is empty: it must hold the value of ${name}`);
      continue;
    }
    out[name] = value;
  }
  return { input: out, issues };
}

function describeReadError(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === "ENOENT") return "no such file";
  if (code === "EACCES" || code === "EPERM") return "permission denied";
  if (code === "EISDIR") return "it is a directory";
  return (e as Error).message ?? String(e);
}

const secretNames = new Set<string>(secretSettings);
export const isSecretSetting = (name: string) => secretNames.has(name);

/**
 * How a rejected secret is described in a configuration error: never the value. A database URL
 * shows its scheme only, since a malformed one may hold its password anywhere.
 */
export function describeSecretInput(name: string, input: string): string {
  const scheme = name === "FERRY_DATABASE_URL" ? /^[a-z][a-z0-9+.-]*:\/\//i.exec(input)?.[0] : undefined;
  return `got a value of ${input.length} character${input.length === 1 ? "" : "s"}${scheme ? ` starting with ${JSON.stringify(scheme)}` : ""}, not shown`;
}
