/**
 * Immutable copies (issue 12): per storage location, `immutability: {"mode": "governance"|"compliance",
 * "min_days": N, "margin_days": M}` makes every shard, backup snapshot and catalog snapshot written there
 * locked by the store (S3 Object Lock, GCS object retention, Azure blob immutability policy) until the
 * backup's expiry + margin_days, and never for less than min_days. A local location has no such lock; its
 * equivalent is `append_only: true` (the backup process never deletes there; see docs/operations.md).
 */
import * as z from 'zod';

export const immutabilitySchema = z.strictObject({
  mode: z.enum(['governance', 'compliance'], { error: 'must be "governance" or "compliance"' }),
  min_days: z.number({ error: 'must be a whole number of days between 1 and 36500' }).int({ error: 'must be a whole number of days between 1 and 36500' }).min(1, { error: 'must be at least 1 day' }).max(36500, { error: 'must be at most 36500 days' }),
  /** Days added to the backup's expiry, so a lock never ends before retention gets to the backup. */
  margin_days: z.number({ error: 'must be a whole number of days between 0 and 365' }).int({ error: 'must be a whole number of days between 0 and 365' }).min(0).max(365).default(1),
});
export type Immutability = z.infer<typeof immutabilitySchema>;

/** Location types whose store can lock an object. */
const LOCKABLE = new Set(['s3', 'gcs', 'azure']);

/** Problems with a location's immutability / append_only settings, each naming the location. */
export function immutabilityIssues(loc: Readonly<Record<string, unknown>> & { name: string; type: string }): string[] {
  const where = `storage location "${loc.name}" (${loc.type})`;
  const out: string[] = [];
  if (loc.immutability !== undefined) {
    if (!LOCKABLE.has(loc.type)) {
      out.push(`${where}: immutability is only available on s3, gcs and azure locations; for a local location use "append_only": true`);
    } else {
      const r = immutabilitySchema.safeParse(loc.immutability);
      if (!r.success) out.push(...r.error.issues.map((i) => `${where}: immutability${i.path.length ? `.${i.path.join('.')}` : ''} ${i.message}`));
    }
  }
  if (loc.append_only !== undefined) {
    if (loc.type !== 'local') out.push(`${where}: append_only is for local locations; on ${loc.type} use immutability (the store's own lock)`);
    else if (typeof loc.append_only !== 'boolean') out.push(`${where}: append_only must be true or false`);
  }
  return out;
}

/** The location's parsed immutability, or null when it has none (call after validation). */
export function immutabilityOf(loc: Readonly<Record<string, unknown>>): Immutability | null {
  if (loc.immutability === undefined) return null;
  return immutabilitySchema.parse(loc.immutability);
}

/** Whether a local location is append-only (the backup process never deletes there). */
export function isAppendOnly(loc: Readonly<Record<string, unknown>>): boolean {
  return loc.type === 'local' && loc.append_only === true;
}

const DAY_MS = 86_400_000;

/**
 * The retain-until date for an object written now for something that expires at `expiresAt` (null: no
 * expiry known, e.g. a catalog snapshot): expiry + margin_days, at least now + min_days, rounded up to the
 * next whole second (stores keep seconds).
 */
export function retainUntil(imm: Immutability, now: Date, expiresAt: Date | null): Date {
  const floor = now.getTime() + imm.min_days * DAY_MS;
  const wanted = expiresAt ? expiresAt.getTime() + imm.margin_days * DAY_MS : 0;
  return new Date(Math.ceil(Math.max(floor, wanted) / 1000) * 1000);
}
