import { randomUUID } from "node:crypto";
import { createRegistryClient, type RegistryClient } from "../../runtime/registry/client.ts";
import { createRegistryHttp } from "../../runtime/registry/http.ts";
import { testServices } from "./env.ts";

/** A client for this run's registry, and subject names that no other test uses; `cleanup()` deletes them. */
export function testRegistry(): {
  url: string;
  client: RegistryClient;
  subject(prefix: string): string;
  track(subject: string): void;
  cleanup(): Promise<void>;
} {
  const url = testServices().registryUrl;
  if (!url) throw new Error("FERRY_TEST_REGISTRY_URL is not set: run the suite with 'bun run test' (scripts/test.sh starts the registry)");
  const client = createRegistryClient(createRegistryHttp({ url, timeoutMs: 10_000, retries: 2, retryBackoffMs: 200 }));
  const used: string[] = [];
  return {
    url,
    client,
    subject(prefix) {
      const name = `${prefix}-${randomUUID().slice(0, 8)}`;
      used.push(name);
      return name;
    },
    track(subject) {
      used.push(subject);
    },
    async cleanup() {
      await Promise.allSettled(used.map((s) => client.deleteSubject(s)));
    },
  };
}
