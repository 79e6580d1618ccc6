CREATE TABLE "restore_jobs" (
	"id" text PRIMARY KEY NOT NULL,
	"backup_id" text NOT NULL,
	"status" text NOT NULL,
	"actor" text NOT NULL,
	"actor_role" text,
	"via" text NOT NULL,
	"target" text NOT NULL,
	"options" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"progress" jsonb DEFAULT '{"bytes_done":0,"bytes_total":0,"files_done":0,"files_total":0}'::jsonb NOT NULL,
	"result" jsonb,
	"files_restored" integer,
	"files_lost" integer,
	"bytes_restored" bigint,
	"duration_ms" integer,
	"error" text,
	"claimed_by" text,
	"owner_pid" integer,
	"owner_host" text,
	"heartbeat_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"started_at" timestamp with time zone,
	"finished_at" timestamp with time zone
);
--> statement-breakpoint
CREATE INDEX "restore_jobs_created_idx" ON "restore_jobs" USING btree ("created_at");--> statement-breakpoint
CREATE INDEX "restore_jobs_backup_idx" ON "restore_jobs" USING btree ("backup_id");--> statement-breakpoint
CREATE INDEX "restore_jobs_status_idx" ON "restore_jobs" USING btree ("status");