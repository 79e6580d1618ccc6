ALTER TABLE "schedule_runs" DROP CONSTRAINT "schedule_runs_schedule_id_schedules_id_fk";
--> statement-breakpoint
ALTER TABLE "schedule_runs" ALTER COLUMN "schedule_id" DROP NOT NULL;--> statement-breakpoint
ALTER TABLE "schedule_runs" ADD COLUMN "drill" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "schedule_runs" ADD CONSTRAINT "schedule_runs_schedule_id_schedules_id_fk" FOREIGN KEY ("schedule_id") REFERENCES "public"."schedules"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
UPDATE "schedule_runs" r SET "drill" = true FROM "schedules" s WHERE s."id" = r."schedule_id" AND s."backup_type" = 'drill';
