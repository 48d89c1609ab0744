/**
 * What `ferry dev` prints when it is up: where each embedded part listens, what to do next, and —
 * honestly — what running on embedded parts proves and what it does not.
 */
import type { DevState } from "./state-file.ts";

export interface BannerInput {
  state: DevState;
  dataDir: string;
  schemasDir: string;
  handlers: Array<{ name: string; topics: readonly string[]; format: string }>;
  seeded: Array<{ subject: string; version: number }>;
  adminUrl?: string;
}

export function renderBanner({ state, dataDir, schemasDir, handlers, seeded, adminUrl }: BannerInput): string {
  const list = handlers.length
    ? handlers.map((h) => `${h.name} (${h.topics.join(", ")}, ${h.format})`).join("; ")
    : "none yet: add one with 'ferry new handler <name>' (loaded without a restart)";
  const subjects = seeded.length ? seeded.map((s) => `${s.subject} v${s.version}`).join(", ") : "none";
  return `
ferry dev — the real engine on embedded parts. Not for production.

  handlers    ${state.handlersDir}: ${list}
  Kafka       ${state.brokers.join(",")}
              librdkafka's mock cluster, in memory, empty at every start (any Kafka client can connect)
  PostgreSQL  ${state.databaseUrl}
              PGlite, data kept in ${dataDir}/pgdata (start over with --reset)
  registry    ${state.registryUrl}
              Confluent-compatible, in memory, from ${schemasDir}/: ${subjects}
${adminUrl ? `  admin       ${adminUrl}\n` : ""}
Next, in another shell:
  ferry produce --demo                      orders with duplicates and a poison message
  ferry new handler <name>                  your own handler, picked up while this runs
Ctrl-C stops.

Same code as 'ferry run': handler loading, Avro decoding and the schema gate, the inbox transaction
(technical and functional dedup), retries, dead letters, offsets. What embedded parts do NOT prove:
one in-process broker (no replication, failover or real acks=all), topics auto-created with 4
partitions and no configs, ACLs or SASL; PGlite is one PostgreSQL session in WebAssembly (one
statement at a time, no cancel); the registry keeps nothing. Run scripts/test.sh, or 'ferry run'
against real services, before you trust a change.
`;
}
