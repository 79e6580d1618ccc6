/**
 * The audit trail of data-key use (the spec's "complete audit trail of key usage"): one `key.use` row each
 * time a data key opens or seals a backup's data — creating a backup (its new key, and the base backup's key an
 * incremental reads), verify, repair, browse, download, restore and drills. The row says who (actor), which
 * key (target = key id) and what for (details.purpose, backup_id, security_level).
 */
import { auditEvents } from '../../../db/schema';
import type { Db } from '../../../db/client';

export const KEY_USE_PURPOSES = ['backup', 'backup-base', 'backup-compare', 'verify', 'repair', 'browse', 'download', 'restore', 'drill'] as const;
export type KeyUsePurpose = (typeof KEY_USE_PURPOSES)[number];

export interface KeyUse {
  actor: string;
  keyId: string | null;
  purpose: KeyUsePurpose;
  backupId: string;
  securityLevel?: string;
  details?: Record<string, unknown>;
}

/** Browsing pages through a manifest many times a minute: one row per actor, backup and purpose per window. */
const REPEAT_WINDOW_MS = 5 * 60_000;
const recent = new Map<string, number>();

export async function auditKeyUse(db: Db, u: KeyUse, opts: { coalesce?: boolean; now?: number } = {}): Promise<void> {
  const now = opts.now ?? Date.now();
  if (opts.coalesce) {
    const k = `${u.actor}\u0000${u.keyId}\u0000${u.purpose}\u0000${u.backupId}`;
    const last = recent.get(k);
    if (last !== undefined && now - last < REPEAT_WINDOW_MS) return;
    recent.set(k, now);
    if (recent.size > 10_000) for (const [key, at] of recent) if (now - at >= REPEAT_WINDOW_MS) recent.delete(key);
  }
  await db.insert(auditEvents).values({
    actor: u.actor,
    action: 'key.use',
    target: u.keyId,
    outcome: 'success',
    details: { purpose: u.purpose, backup_id: u.backupId, ...(u.securityLevel ? { security_level: u.securityLevel } : {}), ...(u.details ?? {}) },
  });
}
