import { afterAll, afterEach, beforeAll } from "bun:test";
import { testSql } from "./db.ts";
import { testKafka } from "./kafka.ts";
import { createScenario } from "./scenario.ts";

type TestKafka = Awaited<ReturnType<typeof testKafka>>;

/**
 * Registers the hooks every end-to-end file needs: one Kafka client set and one database pool
 * for the file, and scenarios whose leftover ferry processes are killed after each test.
 */
export function useScenarios() {
  const sql = testSql();
  let kafka: TestKafka | undefined;
  const scenarios: Array<{ cleanup(): void }> = [];
  beforeAll(async () => {
    kafka = await testKafka();
  });
  afterEach(() => {
    for (const s of scenarios.splice(0)) s.cleanup();
  });
  afterAll(async () => {
    await kafka?.close();
    await sql.end();
  });
  const kafkaClients = () => {
    if (!kafka) throw new Error("useScenarios(): the Kafka clients exist only inside tests");
    return kafka;
  };
  return {
    sql,
    kafka: kafkaClients,
    /** Tracks any object with cleanup() so it is cleaned after the current test. */
    track<T extends { cleanup(): void }>(s: T): T {
      scenarios.push(s);
      return s;
    },
    async scenario(name: string, options: Parameters<typeof createScenario>[2] = {}) {
      const s = await createScenario(name, { kafka: kafkaClients(), sql }, options);
      scenarios.push(s);
      return s;
    },
  };
}
