CREATE TABLE "object_locks" (
	"location" text NOT NULL,
	"key" text NOT NULL,
	"mode" text NOT NULL,
	"locked_until" timestamp with time zone,
	"released_at" timestamp with time zone,
	"released_by" text,
	CONSTRAINT "object_locks_location_key_pk" PRIMARY KEY("location","key")
);
--> statement-breakpoint
CREATE INDEX "object_locks_released_idx" ON "object_locks" USING btree ("released_at");