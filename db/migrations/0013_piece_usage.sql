-- Storage used per location counts what a location really holds: a whole copy is the shard's stored size, a
-- piece of a k+m erasure-coded shard (shard_replicas.piece set) its payload, ceil(stored_size / k), plus its
-- header (77 bytes + the shard id: docs/repository-format.md, "Erasure-coded objects").
CREATE FUNCTION replica_bytes(stored_size integer, ec_data integer, piece integer, shard_id text) RETURNS bigint LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN piece IS NULL OR ec_data IS NULL OR ec_data < 1 THEN stored_size::bigint
    ELSE greatest(1, ceil(stored_size::numeric / ec_data))::bigint + 77 + length(shard_id) END
$$;
--> statement-breakpoint
CREATE OR REPLACE FUNCTION usage_shard_resized() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO usage_deltas (location, objects, bytes) VALUES (NULL, 0, NEW.stored_size - OLD.stored_size);
  INSERT INTO usage_deltas (location, objects, bytes)
    SELECT r.location, 0, replica_bytes(NEW.stored_size, NEW.ec_data, r.piece, NEW.id) - replica_bytes(OLD.stored_size, OLD.ec_data, r.piece, OLD.id)
    FROM shard_replicas r WHERE r.shard_id = NEW.id;
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE OR REPLACE FUNCTION usage_replicas_added() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO usage_deltas (location, objects, bytes)
    SELECT a.location, count(*), COALESCE(sum(replica_bytes(s.stored_size, s.ec_data, a.piece, s.id)), 0) FROM added a LEFT JOIN shards s ON s.id = a.shard_id GROUP BY a.location;
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE OR REPLACE FUNCTION usage_replicas_removed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO usage_deltas (location, objects, bytes)
    SELECT d.location, -count(*), -COALESCE(sum(replica_bytes(s.stored_size, s.ec_data, d.piece, s.id)), 0) FROM removed d LEFT JOIN shards s ON s.id = d.shard_id GROUP BY d.location;
  RETURN NULL;
END $$;
--> statement-breakpoint
-- Recount the per-location totals of the rows already there with the piece sizes.
DELETE FROM usage_deltas WHERE location IS NOT NULL;
--> statement-breakpoint
INSERT INTO usage_deltas (location, objects, bytes)
  SELECT r.location, count(*), COALESCE(sum(replica_bytes(s.stored_size, s.ec_data, r.piece, s.id)), 0) FROM shard_replicas r JOIN shards s ON s.id = r.shard_id GROUP BY r.location;
