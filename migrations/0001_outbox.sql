CREATE TABLE "ferry_outbox" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"event_id" text NOT NULL,
	"handler" text NOT NULL,
	"source_event_id" text NOT NULL,
	"topic" text NOT NULL,
	"key" "bytea",
	"value" "bytea",
	"headers" jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"sent_at" timestamp with time zone
);
--> statement-breakpoint
CREATE UNIQUE INDEX "ferry_outbox_event_id_idx" ON "ferry_outbox" USING btree ("event_id");--> statement-breakpoint
CREATE INDEX "ferry_outbox_unsent_idx" ON "ferry_outbox" USING btree ("id") WHERE "ferry_outbox"."sent_at" is null;--> statement-breakpoint
CREATE INDEX "ferry_outbox_sent_at_idx" ON "ferry_outbox" USING btree ("sent_at");