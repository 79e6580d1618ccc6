/**
 * The MAXIMUM quorum's public record in the catalog (settings key `quorum`, authenticated with the id key; it
 * travels in catalog snapshots) and its creation: `keys quorum init` makes a key pair, records the public
 * half, and returns the private half split into n shares — the only copies; the process forgets it.
 */
import { eq } from 'drizzle-orm';
import { settings } from '../../../db/schema';
import type { EngineContext } from '../context';
import { EngineError } from '../errors';
import { checkQuorumRecord, newQuorumKey, type QuorumRecord, quorumId, quorumMac, splitSecret } from './quorum';

export const QUORUM_SETTING = 'quorum';

export async function readQuorum(ctx: Pick<EngineContext, 'db' | 'idKey'>): Promise<QuorumRecord | null> {
  const [row] = await ctx.db.select().from(settings).where(eq(settings.key, QUORUM_SETTING));
  if (!row) return null;
  const r = row.value as unknown as QuorumRecord;
  checkQuorumRecord(ctx.idKey, r);
  return r;
}

/** Loads the catalog's quorum into the key ring (another process may have created it since this one started). */
export async function refreshQuorum(ctx: EngineContext): Promise<QuorumRecord | null> {
  const r = await readQuorum(ctx);
  ctx.keys.setQuorum(r ? { id: r.id, pub: Buffer.from(r.public_key, 'base64') } : null);
  return r;
}

export async function initQuorum(ctx: EngineContext, threshold: number, holders: number, opts: { replace?: boolean } = {}): Promise<{ record: QuorumRecord; shares: string[] }> {
  const existing = await readQuorum(ctx);
  if (existing && !opts.replace) {
    throw new EngineError('CONFLICT', `This repository already has quorum ${existing.id} (${existing.threshold} of ${existing.holders}). MAXIMUM backups made so far need its shares for ever; to seal new ones to a new quorum, pass --replace (keep the old shares too).`);
  }
  const { pub, priv } = newQuorumKey();
  const shares = splitSecret(priv, pub, threshold, holders);
  priv.fill(0);
  const base = { id: quorumId(pub), public_key: pub.toString('base64'), threshold, holders, created_at: ctx.now().toISOString() };
  const record: QuorumRecord = { ...base, mac: quorumMac(ctx.idKey, base) };
  const v = record as unknown as Record<string, unknown>;
  await ctx.db.insert(settings).values({ key: QUORUM_SETTING, value: v }).onConflictDoUpdate({ target: settings.key, set: { value: v, updatedAt: new Date() } });
  ctx.keys.setQuorum({ id: record.id, pub });
  return { record, shares };
}
