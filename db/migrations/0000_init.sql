CREATE TABLE "audit_events" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"at" timestamp with time zone DEFAULT now() NOT NULL,
	"actor" text NOT NULL,
	"action" text NOT NULL,
	"target" text,
	"outcome" text DEFAULT 'success' NOT NULL,
	"details" jsonb DEFAULT '{}'::jsonb NOT NULL
);
--> statement-breakpoint
CREATE TABLE "backup_shards" (
	"backup_id" text NOT NULL,
	"shard_id" text NOT NULL,
	CONSTRAINT "backup_shards_backup_id_shard_id_pk" PRIMARY KEY("backup_id","shard_id")
);
--> statement-breakpoint
CREATE TABLE "backups" (
	"id" text PRIMARY KEY NOT NULL,
	"status" text NOT NULL,
	"backup_type" text NOT NULL,
	"security_level" text NOT NULL,
	"user_id" text,
	"tags" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"retention_days" integer NOT NULL,
	"priority" integer DEFAULT 5 NOT NULL,
	"metadata" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"sources" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"key_id" text,
	"manifest_shards" jsonb DEFAULT '{"files":[],"chunks":[]}'::jsonb NOT NULL,
	"original_size" bigint DEFAULT 0 NOT NULL,
	"stored_size" bigint DEFAULT 0 NOT NULL,
	"new_bytes" bigint DEFAULT 0 NOT NULL,
	"file_count" integer DEFAULT 0 NOT NULL,
	"shard_count" integer DEFAULT 0 NOT NULL,
	"new_shard_count" integer DEFAULT 0 NOT NULL,
	"compression_ratio" real DEFAULT 1 NOT NULL,
	"dedup_ratio" real DEFAULT 1 NOT NULL,
	"duration_ms" integer DEFAULT 0 NOT NULL,
	"throughput_mbps" real DEFAULT 0 NOT NULL,
	"progress" jsonb,
	"error" text,
	"owner_pid" integer,
	"heartbeat_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"started_at" timestamp with time zone,
	"completed_at" timestamp with time zone,
	"expires_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "shard_replicas" (
	"shard_id" text NOT NULL,
	"location" text NOT NULL,
	"state" text DEFAULT 'ok' NOT NULL,
	"checked_at" timestamp with time zone,
	CONSTRAINT "shard_replicas_shard_id_location_pk" PRIMARY KEY("shard_id","location")
);
--> statement-breakpoint
CREATE TABLE "shards" (
	"id" text PRIMARY KEY NOT NULL,
	"content_id" text NOT NULL,
	"security_level" text NOT NULL,
	"key_id" text NOT NULL,
	"plain_size" integer NOT NULL,
	"stored_size" integer NOT NULL,
	"checksum" text NOT NULL,
	"compression" text NOT NULL,
	"kind" text DEFAULT 'data' NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"gc_marked_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "data_keys" (
	"id" text PRIMARY KEY NOT NULL,
	"security_level" text NOT NULL,
	"algorithm" text NOT NULL,
	"wrapped_key" text NOT NULL,
	"kek_id" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"rotated_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "storage_locations" (
	"name" text PRIMARY KEY NOT NULL,
	"type" text NOT NULL,
	"settings" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"secrets" text,
	"priority" integer DEFAULT 10 NOT NULL,
	"max_size_gb" real,
	"region" text DEFAULT 'local' NOT NULL,
	"enabled" boolean DEFAULT true NOT NULL,
	"used_bytes" bigint DEFAULT 0 NOT NULL,
	"object_count" integer DEFAULT 0 NOT NULL,
	"healthy" boolean DEFAULT true NOT NULL,
	"last_error" text,
	"latency_ms" real,
	"last_checked_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "users" (
	"id" text PRIMARY KEY NOT NULL,
	"email" text NOT NULL,
	"name" text,
	"password_hash" text NOT NULL,
	"role" text NOT NULL,
	"disabled" boolean DEFAULT false NOT NULL,
	"failed_logins" integer DEFAULT 0 NOT NULL,
	"locked_until" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"last_login_at" timestamp with time zone,
	CONSTRAINT "users_email_unique" UNIQUE("email")
);
--> statement-breakpoint
CREATE TABLE "settings" (
	"key" text PRIMARY KEY NOT NULL,
	"value" jsonb NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "backup_shards" ADD CONSTRAINT "backup_shards_backup_id_backups_id_fk" FOREIGN KEY ("backup_id") REFERENCES "public"."backups"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "shard_replicas" ADD CONSTRAINT "shard_replicas_shard_id_shards_id_fk" FOREIGN KEY ("shard_id") REFERENCES "public"."shards"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "audit_at_idx" ON "audit_events" USING btree ("at");--> statement-breakpoint
CREATE INDEX "audit_action_idx" ON "audit_events" USING btree ("action");--> statement-breakpoint
CREATE INDEX "backup_shards_shard_idx" ON "backup_shards" USING btree ("shard_id");--> statement-breakpoint
CREATE INDEX "backups_status_idx" ON "backups" USING btree ("status");--> statement-breakpoint
CREATE INDEX "backups_created_idx" ON "backups" USING btree ("created_at");--> statement-breakpoint
CREATE INDEX "shard_replicas_location_idx" ON "shard_replicas" USING btree ("location");--> statement-breakpoint
CREATE INDEX "shards_content_idx" ON "shards" USING btree ("content_id");--> statement-breakpoint
CREATE INDEX "shards_created_idx" ON "shards" USING btree ("created_at");