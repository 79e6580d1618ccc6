/**
 * The catalog side of ransomware signals: which backup a new one is compared with, the source's change
 * history, and the verdict stored on the backup row (change_summary, suspicious). Alerting on a suspicious
 * backup is the monitoring layer's (server/monitoring/change-alerts.ts); retention reads the flag.
 */
import { and, desc, eq, isNotNull, isNull, sql } from 'drizzle-orm';
import { auditEvents, backups } from '../../../db/schema';
import type { BaseIndex } from './backup';
import { loadBaseIndex } from './base-index';
import { type BackupRow, getBackupRow, toMetadata } from '../catalog/catalog';
import { assessChange, changeHistory, type ChangeHistory, type ChangeVerdict } from './change-rule';
import type { ChangeSummary } from './change-summary';
import type { EngineContext } from '../context';
import { EngineError, notFound } from '../errors';
import { auditKeyUse } from '../keys/key-audit';
import type { BackupMetadata } from '../types';

const HISTORY = 10;

/** What the backup row stores: the summary, the history it was judged against and the verdict. */
export type StoredChangeSummary = ChangeSummary & { history: ChangeHistory | null; verdict: ChangeVerdict };

/**
 * The previous backup's file index, for a backup that has no base (full, snapshot): its files are compared,
 * never reused. A manifest that cannot be read costs the signals of this one backup, not the backup.
 */
export async function loadPrevious(ctx: EngineContext, row: BackupRow, actor: string, forBackup: string): Promise<BaseIndex | undefined> {
  try {
    await auditKeyUse(ctx.db, { actor, keyId: row.keyId, purpose: 'backup-compare', backupId: row.id, securityLevel: row.securityLevel, details: { for_backup: forBackup } });
    return await loadBaseIndex(ctx, row);
  } catch (err) {
    ctx.log(`backup ${forBackup}: cannot compare with ${row.id} (no ransomware signals for this backup): ${(err as Error).message}`);
    return undefined;
  }
}

/** Judges a summary against the same sources' last completed backups. */
export async function judgeChange(ctx: EngineContext, sources: string[], summary: ChangeSummary): Promise<StoredChangeSummary> {
  const rows = await ctx.db
    .select({ s: backups.changeSummary })
    .from(backups)
    .where(and(eq(backups.status, 'completed'), isNotNull(backups.changeSummary), sql`${backups.sources} = ${JSON.stringify(sources)}::jsonb`))
    .orderBy(desc(backups.completedAt))
    .limit(HISTORY);
  const history = changeHistory(rows.map((r) => r.s as unknown as ChangeSummary));
  return { ...summary, history, verdict: assessChange(summary, history) };
}

/**
 * An admin's acknowledgement of a suspicious backup: from now on retention treats its group normally. The
 * audit event is written in the same transaction. Acknowledging twice is refused (CONFLICT names who did it).
 */
export async function acknowledgeSuspicious(ctx: EngineContext, id: string, actor: string): Promise<BackupMetadata> {
  const row = await getBackupRow(ctx.db, id);
  if (!row) throw notFound(`Backup ${id}`);
  if (!row.suspicious) throw new EngineError('INVALID', `Backup ${id} is not marked suspicious; there is nothing to acknowledge.`);
  if (row.suspiciousAcknowledgedAt) {
    throw new EngineError('CONFLICT', `Backup ${id} was already acknowledged by ${row.suspiciousAcknowledgedBy ?? 'unknown'} at ${row.suspiciousAcknowledgedAt.toISOString()}.`);
  }
  const now = ctx.now();
  await ctx.db.transaction(async (tx) => {
    const done = await tx
      .update(backups)
      .set({ suspiciousAcknowledgedAt: now, suspiciousAcknowledgedBy: actor })
      .where(and(eq(backups.id, id), eq(backups.suspicious, true), isNull(backups.suspiciousAcknowledgedAt)))
      .returning({ id: backups.id });
    if (!done.length) throw new EngineError('CONFLICT', `Backup ${id} was acknowledged meanwhile by someone else.`);
    const verdict = (row.changeSummary as StoredChangeSummary | null)?.verdict;
    await tx.insert(auditEvents).values({ actor, action: 'backup.acknowledge_suspicious', target: id, outcome: 'success', details: { reasons: verdict?.reasons ?? [] } });
  });
  return toMetadata((await getBackupRow(ctx.db, id))!);
}
