DROP INDEX "ferry_outbox_unsent_idx";--> statement-breakpoint
ALTER TABLE "ferry_outbox" ADD COLUMN "failed_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "ferry_outbox" ADD COLUMN "failure" jsonb;--> statement-breakpoint
CREATE INDEX "ferry_outbox_pending_idx" ON "ferry_outbox" USING btree ("id") WHERE "ferry_outbox"."sent_at" is null and "ferry_outbox"."failed_at" is null;--> statement-breakpoint
CREATE INDEX "ferry_outbox_failed_idx" ON "ferry_outbox" USING btree ("failed_at") WHERE "ferry_outbox"."failed_at" is not null;