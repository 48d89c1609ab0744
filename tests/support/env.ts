/** The real services of this test run, started by scripts/test.sh (see services/README.md). */
export interface TestServices {
  brokers: string;
  saslBrokers: string;
  databaseUrl: string;
  registryUrl: string;
  kafkaToolsClasspath: string;
}

export function testServices(): TestServices {
  const need = (name: string) => {
    const value = process.env[name];
    if (!value) throw new Error(`${name} is not set: run the suite with 'bun run test' (scripts/test.sh starts the services)`);
    return value;
  };
  return {
    brokers: need("FERRY_TEST_KAFKA_BROKERS"),
    saslBrokers: process.env.FERRY_TEST_KAFKA_SASL_BROKERS ?? "",
    databaseUrl: need("FERRY_TEST_DATABASE_URL"),
    registryUrl: process.env.FERRY_TEST_REGISTRY_URL ?? "",
    kafkaToolsClasspath: process.env.FERRY_TEST_KAFKA_TOOLS_CP ?? "",
  };
}
