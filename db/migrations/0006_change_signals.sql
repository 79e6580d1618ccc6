ALTER TABLE "backups" ADD COLUMN "change_summary" jsonb;--> statement-breakpoint
ALTER TABLE "backups" ADD COLUMN "suspicious" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "backups" ADD COLUMN "suspicious_acknowledged_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "backups" ADD COLUMN "suspicious_acknowledged_by" text;