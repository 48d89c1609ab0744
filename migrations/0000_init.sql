CREATE TABLE "ferry_business_keys" (
	"handler" text NOT NULL,
	"business_key" text NOT NULL,
	"event_id" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "ferry_business_keys_pk" PRIMARY KEY("handler","business_key")
);
--> statement-breakpoint
CREATE TABLE "ferry_inbox" (
	"handler" text NOT NULL,
	"event_id" text NOT NULL,
	"topic" text NOT NULL,
	"partition" integer NOT NULL,
	"offset" bigint NOT NULL,
	"outcome" text NOT NULL,
	"received_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "ferry_inbox_pk" PRIMARY KEY("handler","event_id")
);
--> statement-breakpoint
CREATE TABLE "ferry_offsets" (
	"group_id" text NOT NULL,
	"topic" text NOT NULL,
	"partition" integer NOT NULL,
	"next_offset" bigint NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "ferry_offsets_pk" PRIMARY KEY("group_id","topic","partition")
);
--> statement-breakpoint
CREATE INDEX "ferry_inbox_received_at_idx" ON "ferry_inbox" USING btree ("received_at");