ALTER TABLE "shard_replicas" ADD COLUMN "piece" integer;--> statement-breakpoint
ALTER TABLE "shards" ADD COLUMN "ec_data" integer;--> statement-breakpoint
ALTER TABLE "shards" ADD COLUMN "ec_parity" integer;