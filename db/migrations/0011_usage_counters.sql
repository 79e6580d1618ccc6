-- Shard and storage totals (usage_deltas, see db/schema/backups.ts), kept by statement-level triggers: every
-- statement that inserts or deletes shards or replicas appends its net change, so reading the totals is a sum
-- of a few rows. A shard's replicas are deleted before the shard itself (not by the foreign key's cascade,
-- which runs after the shard row is gone), so the replicas' trigger still finds each one's size.
CREATE FUNCTION usage_shards_added() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO usage_deltas (location, objects, bytes) SELECT NULL, count(*), COALESCE(sum(stored_size), 0) FROM added HAVING count(*) > 0;
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE FUNCTION usage_shards_removed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO usage_deltas (location, objects, bytes) SELECT NULL, -count(*), -COALESCE(sum(stored_size), 0) FROM removed HAVING count(*) > 0;
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE FUNCTION usage_shard_resized() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO usage_deltas (location, objects, bytes) VALUES (NULL, 0, NEW.stored_size - OLD.stored_size);
  INSERT INTO usage_deltas (location, objects, bytes) SELECT r.location, 0, NEW.stored_size - OLD.stored_size FROM shard_replicas r WHERE r.shard_id = NEW.id;
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE FUNCTION usage_shard_replicas_first() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM shard_replicas WHERE shard_id = OLD.id;
  RETURN OLD;
END $$;
--> statement-breakpoint
CREATE FUNCTION usage_replicas_added() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO usage_deltas (location, objects, bytes)
    SELECT a.location, count(*), COALESCE(sum(s.stored_size), 0) FROM added a LEFT JOIN shards s ON s.id = a.shard_id GROUP BY a.location;
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE FUNCTION usage_replicas_removed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO usage_deltas (location, objects, bytes)
    SELECT d.location, -count(*), -COALESCE(sum(s.stored_size), 0) FROM removed d LEFT JOIN shards s ON s.id = d.shard_id GROUP BY d.location;
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE FUNCTION usage_reset() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_TABLE_NAME = 'shards' THEN DELETE FROM usage_deltas; ELSE DELETE FROM usage_deltas WHERE location IS NOT NULL; END IF;
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE TRIGGER usage_shards_added AFTER INSERT ON shards REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION usage_shards_added();
--> statement-breakpoint
CREATE TRIGGER usage_shards_removed AFTER DELETE ON shards REFERENCING OLD TABLE AS removed FOR EACH STATEMENT EXECUTE FUNCTION usage_shards_removed();
--> statement-breakpoint
-- Rare (a rebuilt shard): one row at a time, and only when the size changed.
CREATE TRIGGER usage_shard_resized AFTER UPDATE OF stored_size ON shards FOR EACH ROW WHEN (OLD.stored_size IS DISTINCT FROM NEW.stored_size) EXECUTE FUNCTION usage_shard_resized();
--> statement-breakpoint
CREATE TRIGGER usage_shard_replicas_first BEFORE DELETE ON shards FOR EACH ROW EXECUTE FUNCTION usage_shard_replicas_first();
--> statement-breakpoint
CREATE TRIGGER usage_replicas_added AFTER INSERT ON shard_replicas REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION usage_replicas_added();
--> statement-breakpoint
CREATE TRIGGER usage_replicas_removed AFTER DELETE ON shard_replicas REFERENCING OLD TABLE AS removed FOR EACH STATEMENT EXECUTE FUNCTION usage_replicas_removed();
--> statement-breakpoint
CREATE TRIGGER usage_shards_reset AFTER TRUNCATE ON shards FOR EACH STATEMENT EXECUTE FUNCTION usage_reset();
--> statement-breakpoint
CREATE TRIGGER usage_replicas_reset AFTER TRUNCATE ON shard_replicas FOR EACH STATEMENT EXECUTE FUNCTION usage_reset();
--> statement-breakpoint
-- The totals of the rows already there.
INSERT INTO usage_deltas (location, objects, bytes) SELECT NULL, count(*), COALESCE(sum(stored_size), 0) FROM shards;
--> statement-breakpoint
INSERT INTO usage_deltas (location, objects, bytes)
  SELECT r.location, count(*), COALESCE(sum(s.stored_size), 0) FROM shard_replicas r JOIN shards s ON s.id = r.shard_id GROUP BY r.location;
