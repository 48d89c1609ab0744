/**
 * The PostgreSQL connection: the URL (FERRY_DATABASE_URL or FERRY_DATABASE_URL_FILE), TLS as its
 * `sslmode` says, with the CA, client certificate and key from FERRY_DATABASE_SSL_*_FILE.
 */
import { ConfigError } from "../errors.ts";
import { pemFilesProblems, type ReadText } from "./tls-files.ts";

/** libpq's sslmode values; postgres.js understands them too, but cannot be given files. */
export const sslModes = ["disable", "allow", "prefer", "require", "verify-ca", "verify-full"] as const;
export type SslMode = (typeof sslModes)[number];

export interface DatabaseConnection {
  /** Holds the password, if any: never log it. `address` is what messages show. */
  url: string;
  /** host:port (several, comma-separated, for a multi-host URL). */
  address: string;
  /** From the URL's sslmode; absent: no TLS (postgres.js's default). */
  sslMode?: SslMode;
  /** Paths of PEM files. */
  tls?: { caFile?: string; certFile?: string; keyFile?: string };
}

interface DatabaseSettingsInput {
  FERRY_DATABASE_URL: string;
  FERRY_DATABASE_SSL_CA_FILE?: string | undefined;
  FERRY_DATABASE_SSL_CERT_FILE?: string | undefined;
  FERRY_DATABASE_SSL_KEY_FILE?: string | undefined;
}

export const databaseSettingNames = [
  "FERRY_DATABASE_URL",
  "FERRY_DATABASE_SSL_CA_FILE",
  "FERRY_DATABASE_SSL_CERT_FILE",
  "FERRY_DATABASE_SSL_KEY_FILE",
] as const;

/** URL parameters libpq reads as files: postgres.js would send them to the server as settings. */
const fileParameters: Record<string, string> = {
  sslrootcert: "FERRY_DATABASE_SSL_CA_FILE",
  sslcert: "FERRY_DATABASE_SSL_CERT_FILE",
  sslkey: "FERRY_DATABASE_SSL_KEY_FILE",
};

export function loadDatabaseConnection(s: DatabaseSettingsInput, read?: ReadText): DatabaseConnection {
  const url = s.FERRY_DATABASE_URL;
  const query = new URLSearchParams(/\?([^#]*)/.exec(url)?.[1] ?? "");
  const problems: string[] = [];
  for (const [parameter, setting] of Object.entries(fileParameters)) {
    if (query.has(parameter)) problems.push(`FERRY_DATABASE_URL: the URL parameter ${parameter} is not supported; give the file with ${setting}`);
  }
  const mode = query.get("sslmode") ?? undefined;
  if (mode !== undefined && !(sslModes as readonly string[]).includes(mode)) {
    problems.push(`FERRY_DATABASE_URL: sslmode must be one of ${sslModes.join(", ")} (got "${mode}")`);
  }
  const files = { caFile: s.FERRY_DATABASE_SSL_CA_FILE, certFile: s.FERRY_DATABASE_SSL_CERT_FILE, keyFile: s.FERRY_DATABASE_SSL_KEY_FILE };
  const anyFile = Object.values(files).some(Boolean);
  if (anyFile && (mode === undefined || mode === "disable" || mode === "allow" || mode === "prefer")) {
    problems.push(
      `FERRY_DATABASE_SSL_* files are set but FERRY_DATABASE_URL has ${mode ? `sslmode=${mode}` : "no sslmode"}: add ?sslmode=verify-full (or verify-ca, require) to the URL`,
    );
  }
  if (Boolean(files.certFile) !== Boolean(files.keyFile)) {
    problems.push("FERRY_DATABASE_SSL_CERT_FILE and FERRY_DATABASE_SSL_KEY_FILE are set together (a client certificate and its key) or not at all");
  }
  problems.push(
    ...pemFilesProblems(
      { FERRY_DATABASE_SSL_CA_FILE: files.caFile, FERRY_DATABASE_SSL_CERT_FILE: files.certFile, FERRY_DATABASE_SSL_KEY_FILE: files.keyFile },
      read,
    ),
  );
  if (problems.length > 0) throw new ConfigError(problems);
  return {
    url,
    address: databaseAddress(url),
    ...(mode ? { sslMode: mode as SslMode } : {}),
    ...(anyFile ? { tls: Object.fromEntries(Object.entries(files).filter(([, path]) => path)) } : {}),
  };
}

/**
 * host:port of a postgres URL (default port 5432), never its user or password. A host part that
 * does not look like host[:port] (a password with an unencoded "/" cuts the URL in odd places)
 * is not shown at all.
 */
export function databaseAddress(url: string): string {
  const authority = url.slice(url.indexOf("://") + 3).split(/[?/#]/)[0] ?? "";
  const hosts = authority.slice(authority.lastIndexOf("@") + 1);
  if (!hosts) return "localhost:5432";
  const entries = hosts.split(",").map((h) => (/:\d+$/.test(h) ? h : `${h}:5432`));
  return entries.every((h) => /^([A-Za-z0-9._-]+|\[[0-9A-Fa-f:.]+\]):\d{1,5}$/.test(h)) ? entries.join(",") : "(the host in FERRY_DATABASE_URL)";
}
