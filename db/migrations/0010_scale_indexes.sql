CREATE TABLE "usage_deltas" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"location" text,
	"objects" bigint NOT NULL,
	"bytes" bigint NOT NULL
);
--> statement-breakpoint
DROP INDEX "backups_created_idx";--> statement-breakpoint
CREATE INDEX "backups_created_id_idx" ON "backups" USING btree ("created_at","id");--> statement-breakpoint
CREATE INDEX "backups_continuous_idx" ON "backups" USING btree ("sources","created_at") WHERE "backups"."backup_type" = 'continuous';