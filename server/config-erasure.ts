/**
 * `erasure_coding`: an alternative to `replication_factor` for the data of backups. Every pack object is cut
 * into `data_shards` pieces plus `parity_shards` Reed-Solomon parity pieces, each on its own location, and any
 * `data_shards` of them restore it (docs/repository-format.md, "Erasure-coded objects"). `security_levels`
 * limits it to backups of those levels (the others keep replication_factor copies).
 */
import * as z from 'zod';

const piecesIn = (min: number, max: number) =>
  z
    .number({ error: `must be a whole number between ${min} and ${max}` })
    .int({ error: `must be a whole number between ${min} and ${max}` })
    .min(min, { error: `must be between ${min} and ${max}` })
    .max(max, { error: `must be between ${min} and ${max}` });

export function erasureCodingSchema<L extends readonly [string, ...string[]]>(levels: L) {
  return z.strictObject({
    data_shards: piecesIn(1, 32),
    parity_shards: piecesIn(1, 16),
    /** Only backups of these security levels are coded; absent = every level. */
    security_levels: z.array(z.enum(levels)).min(1).optional(),
  });
}

export interface ErasureCoding {
  data_shards: number;
  parity_shards: number;
  security_levels?: string[];
}

/** PLEXICHAT_ERASURE_CODING="k+m" (e.g. "2+1"); "off" or "none" removes a file's setting. */
export function parseErasureEnv(v: string): unknown {
  if (/^(off|none)$/i.test(v.trim())) return undefined;
  const m = /^\s*(\d+)\s*\+\s*(\d+)\s*$/.exec(v);
  return m ? { data_shards: Number(m[1]), parity_shards: Number(m[2]) } : v;
}

/** The coding a backup of this security level gets: null = replicated (replication_factor copies). */
export function codingFor(cfg: { erasure_coding?: ErasureCoding | undefined }, level: string): { k: number; m: number } | null {
  const ec = cfg.erasure_coding;
  if (!ec || (ec.security_levels && !ec.security_levels.includes(level))) return null;
  return { k: ec.data_shards, m: ec.parity_shards };
}

/** The start-time check: each of the k + m pieces needs its own enabled location. */
export function erasureLocationProblem(ec: ErasureCoding | undefined, enabled: number): string | null {
  if (!ec) return null;
  const n = ec.data_shards + ec.parity_shards;
  if (enabled >= n) return null;
  return `Invalid configuration: erasure_coding is ${ec.data_shards}+${ec.parity_shards} (${n} pieces per object, each on its own location) but only ${enabled} storage location(s) are enabled; add locations under storage_locations, lower data_shards/parity_shards, or remove erasure_coding to keep replication_factor copies.`;
}
