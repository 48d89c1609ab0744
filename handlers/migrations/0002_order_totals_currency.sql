-- The Avro OrderPlaced event carries a currency and line items: the projection keeps both.
-- A new file, never an edit of 0001: applied migrations are immutable (Ferry refuses a changed one).
alter table order_totals add column if not exists currency text not null default 'EUR';
alter table order_totals add column if not exists items integer not null default 0;
