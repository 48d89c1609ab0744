/**
 * Ferry's own tables. `migrations/` holds the SQL generated from this file by drizzle-kit
 * (`bun run db:generate`); never edit a generated migration that has shipped.
 */
import { sql } from "drizzle-orm";
import { bigint, index, integer, pgTable, primaryKey, text, timestamp } from "drizzle-orm/pg-core";

/** One row per (handler, event id) that Ferry has dealt with: technical deduplication. */
export const inbox = pgTable(
  "ferry_inbox",
  {
    handler: text("handler").notNull(),
    eventId: text("event_id").notNull(),
    topic: text("topic").notNull(),
    partition: integer("partition").notNull(),
    offset: bigint("offset", { mode: "bigint" }).notNull(),
    /** "applied" or "dead-lettered": a replay from the dead letter topic may only take the latter. */
    outcome: text("outcome").notNull(),
    receivedAt: timestamp("received_at", { withTimezone: true }).notNull().default(sql`now()`),
  },
  (t) => [
    primaryKey({ name: "ferry_inbox_pk", columns: [t.handler, t.eventId] }),
    // The retention pruner deletes by age.
    index("ferry_inbox_received_at_idx").on(t.receivedAt),
  ],
);

/** One row per (handler, business key): functional deduplication. */
export const businessKeys = pgTable(
  "ferry_business_keys",
  {
    handler: text("handler").notNull(),
    businessKey: text("business_key").notNull(),
    eventId: text("event_id").notNull(),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().default(sql`now()`),
  },
  (t) => [primaryKey({ name: "ferry_business_keys_pk", columns: [t.handler, t.businessKey] })],
);

/**
 * The next offset to consume per (consumer group, topic, partition), written in the same
 * transaction as the effects, so a crash between the database commit and the Kafka commit
 * replays nothing.
 */
export const offsets = pgTable(
  "ferry_offsets",
  {
    groupId: text("group_id").notNull(),
    topic: text("topic").notNull(),
    partition: integer("partition").notNull(),
    nextOffset: bigint("next_offset", { mode: "bigint" }).notNull(),
    updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().default(sql`now()`),
  },
  (t) => [primaryKey({ name: "ferry_offsets_pk", columns: [t.groupId, t.topic, t.partition] })],
);
