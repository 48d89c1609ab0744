/** A registry client from configuration: reads the TLS files, applies timeouts and retries. */
import { readFileSync } from "node:fs";
import type { RegistrySettings } from "../config/registry-settings.ts";
import { ConfigError } from "../errors.ts";
import { createRegistryClient, type RegistryClient } from "./client.ts";
import { createRegistryHttp, type RegistryConnection } from "./http.ts";

export function connectRegistry(settings: RegistrySettings, { fetch }: { fetch?: typeof globalThis.fetch } = {}): RegistryClient {
  return createRegistryClient(createRegistryHttp(registryConnection(settings), fetch ? { fetch } : {}));
}

/** The HTTP connection settings: the TLS files read, the configured timeouts and retries. */
export function registryConnection(settings: RegistrySettings): RegistryConnection {
  const read = (variable: string, file: string | undefined) => {
    if (file === undefined) return undefined;
    try {
      return readFileSync(file, "utf8");
    } catch (e) {
      throw new ConfigError([`${variable}=${file} cannot be read: ${(e as Error).message}`]);
    }
  };
  const tls = settings.tls;
  return {
    url: settings.url,
    timeoutMs: settings.timeoutMs,
    retries: settings.retries,
    retryBackoffMs: 250,
    ...(settings.auth ? { auth: settings.auth } : {}),
    ...(tls
      ? {
          tls: {
            ...pem("ca", read("FERRY_SCHEMA_REGISTRY_CA_FILE", tls.caFile)),
            ...pem("cert", read("FERRY_SCHEMA_REGISTRY_CERT_FILE", tls.certFile)),
            ...pem("key", read("FERRY_SCHEMA_REGISTRY_KEY_FILE", tls.keyFile)),
            rejectUnauthorized: tls.rejectUnauthorized,
          },
        }
      : {}),
  };
}

const pem = (name: "ca" | "cert" | "key", text: string | undefined) => (text === undefined ? {} : { [name]: text });
