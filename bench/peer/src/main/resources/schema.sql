-- The job's tables, in the schema the JDBC URL selects (currentSchema). Created when missing.

-- Technical deduplication: one row per event id ever applied or dead-lettered as a duplicate.
create table if not exists inbox (
  event_id text primary key,
  topic text not null,
  partition int not null,
  "offset" bigint not null,
  received_at timestamptz not null default now()
);
-- The inbox cannot grow forever: a retention job deletes by age.
create index if not exists inbox_received_at_idx on inbox (received_at);

-- Functional deduplication: an order is placed once, by the first event that carried it.
create table if not exists business_keys (
  order_id text primary key,
  event_id text not null,
  created_at timestamptz not null default now()
);

-- The effect (the bench creates it first with the same statement as Ferry's handlers' tables,
-- bench/lib/handlers.ts effectsTableSql, so both write the same shape).
create table if not exists order_totals (
  order_id text primary key,
  customer_id text not null,
  total_cents bigint not null,
  event_id text not null,
  produced_at timestamptz not null,
  applied_at timestamptz not null default clock_timestamp()
);
