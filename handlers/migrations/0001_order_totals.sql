create table if not exists order_totals (
  order_id text primary key,
  customer_id text not null,
  total_cents bigint not null,
  event_id text not null,
  applied_at timestamptz not null default now()
);
