ALTER TABLE "schedules" ADD COLUMN "delay_seconds" integer;--> statement-breakpoint
ALTER TABLE "schedules" ADD COLUMN "watcher_id" text;--> statement-breakpoint
ALTER TABLE "schedules" ADD COLUMN "watcher_seen_at" timestamp with time zone;