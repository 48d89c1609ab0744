/** Can the schema registry be reached? One GET /config per check, without the client's retries. */
import type { RegistrySettings } from "../config/registry-settings.ts";
import { RegistryRequestError } from "../errors.ts";
import { registryConnection } from "../registry/connect.ts";
import { createRegistryHttp } from "../registry/http.ts";
import { oneLine } from "./bounded.ts";
import { refusal, type Dependency } from "./dependency.ts";

export function registryDependency(settings: RegistrySettings): Dependency {
  const url = /^https?:\/\/(?:[^@/]*@)?([^/?#]*)/.exec(settings.url);
  const port = settings.url.startsWith("https:") ? 443 : 80;
  const address = url?.[1] ? (/:\d+$/.test(url[1]) ? url[1] : `${url[1]}:${port}`) : settings.url;
  const dependency = { name: "the schema registry", setting: "FERRY_SCHEMA_REGISTRY_URL", address };
  return {
    ...dependency,
    async check(timeoutMs) {
      const request = createRegistryHttp({ ...registryConnection(settings), timeoutMs, retries: 0 });
      try {
        await request("GET", "/config");
      } catch (e) {
        // Any answer but a refusal of the credentials means the registry is there.
        if (e instanceof RegistryRequestError) {
          if (e.status === 401 || e.status === 403)
            throw refusal(dependency, "FERRY_SCHEMA_REGISTRY_USERNAME and FERRY_SCHEMA_REGISTRY_PASSWORD", `the login was refused (HTTP ${e.status})`, e);
          return;
        }
        const message = oneLine(e);
        if (/certificate|self.signed|unable to verify/i.test(message))
          throw refusal(dependency, "FERRY_SCHEMA_REGISTRY_CA_FILE", `its TLS certificate is not trusted: ${message}`, e);
        throw e;
      }
    },
  };
}
