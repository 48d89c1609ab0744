/** What `ferry run` waits for at start, and how a start that lost a service is told (one line, no stack). */
import type { FerryConfig } from "../config/load.ts";
import { DependencyUnavailableError, FerryError } from "../errors.ts";
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
 * A service can vanish between the wait and the step that uses it. Its error then becomes the
 * same one-line failure the wait gives, naming the setting; anything else (a bug) is left as it is.
 */
export function explainStartFailure(e: unknown, config: FerryConfig): unknown {
  if (e instanceof FerryError || !(e instanceof Error)) return e;
  const code = String((e as { code?: unknown }).code ?? "");
  const database = { name: "PostgreSQL", address: config.database.address };
  if (unreachableCodes.has(code) && !e.name.startsWith("KafkaJS")) {
    return new DependencyUnavailableError(
      "FERRY_DATABASE_URL",
      database.address,
      `PostgreSQL at ${database.address} (FERRY_DATABASE_URL) became unreachable during start-up: ${oneLine(e)}`,
      {
        cause: e,
      },
    );
  }
  const refused = classifyPostgresError(e, config.database, database);
  if (refused !== e) return refused;
  if (e.name.startsWith("KafkaJS")) {
    const address = config.kafka.brokers.join(",");
    return new DependencyUnavailableError("FERRY_KAFKA_BROKERS", address, `Kafka at ${address} (FERRY_KAFKA_BROKERS) failed during start-up: ${oneLine(e)}`, {
      cause: e,
    });
  }
  return e;
}
