CREATE TABLE "restore_drills" (
	"id" text PRIMARY KEY NOT NULL,
	"backup_id" text NOT NULL,
	"sources" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"status" text NOT NULL,
	"sample_percent" real DEFAULT 100 NOT NULL,
	"seed" integer,
	"started_at" timestamp with time zone NOT NULL,
	"finished_at" timestamp with time zone,
	"measured_seconds" double precision,
	"rto_seconds" double precision,
	"files_checked" integer DEFAULT 0 NOT NULL,
	"bytes_checked" bigint DEFAULT 0 NOT NULL,
	"method" text,
	"error" text,
	"actor" text DEFAULT 'system' NOT NULL,
	"details" jsonb DEFAULT '{}'::jsonb NOT NULL
);
--> statement-breakpoint
CREATE INDEX "restore_drills_started_idx" ON "restore_drills" USING btree ("started_at");--> statement-breakpoint
CREATE INDEX "restore_drills_backup_idx" ON "restore_drills" USING btree ("backup_id");