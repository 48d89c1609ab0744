/** What `ferry run` waits for at start, and how a start that lost a service is told (one line, no stack). */
import type { DatabaseConnection } from "../config/database-settings.ts";
import type { FerryConfig } from "../config/load.ts";
import { DependencyUnavailableError, FerryError } from "../errors.ts";
import type { KafkaConnection } from "../kafka/confluent.ts";
import { oneLine } from "./bounded.ts";
import type { Dependency } from "./dependency.ts";
import { kafkaStartDependency } from "./kafka-check.ts";
import { classifyPostgresError, postgresDependency } from "./postgres-check.ts";
import { registryDependency } from "./registry-check.ts";

/** PostgreSQL, Kafka, and the schema registry when one is configured. */
export function startDependencies(config: FerryConfig): Dependency[] {
  return [
    postgresDependency(config.database),
    kafkaStartDependency(config.kafka),
    ...(config.schemas.registry ? [registryDependency(config.schemas.registry)] : []),
  ];
}

/** Node's and postgres.js's codes for a server that cannot be reached (as opposed to one that said no). */
const unreachableCodes = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EPIPE",
  "CONNECT_TIMEOUT",
  "CONNECTION_CLOSED",
  "CONNECTION_ENDED",
  "CONNECTION_DESTROYED",
  "57P03",
]);

/**
 * A service can vanish between the wait and the step that uses it, and commands without a wait
 * (migrate, dlt) meet it directly. Its error then becomes a one-line failure naming the setting,
 * like the wait's; anything else (a bug) is left as it is, stack and all.
 */
export function explainConnectionFailure(e: unknown, { database, kafka }: { database?: DatabaseConnection; kafka?: KafkaConnection }): unknown {
  if (e instanceof FerryError || !(e instanceof Error)) return e;
  const code = (e as { code?: unknown }).code;
  const fromKafka = e.name.startsWith("KafkaJS") || (typeof code === "number" && "origin" in e);
  if (kafka && fromKafka) {
    const address = kafka.brokers.join(",");
    const why = e.message.trim() ? oneLine(e) : `librdkafka error ${String(code)}`;
    return new DependencyUnavailableError("FERRY_KAFKA_BROKERS", address, `Kafka at ${address} (FERRY_KAFKA_BROKERS) failed: ${why}`, { cause: e });
  }
  if (!database || fromKafka) return e;
  const target = { name: "PostgreSQL", address: database.address };
  if (unreachableCodes.has(String(code ?? ""))) {
    return new DependencyUnavailableError(
      "FERRY_DATABASE_URL",
      database.address,
      `PostgreSQL at ${database.address} (FERRY_DATABASE_URL) could not be reached: ${oneLine(e)}`,
      {
        cause: e,
      },
    );
  }
  return classifyPostgresError(e, database, target);
}
