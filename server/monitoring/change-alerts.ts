/**
 * The `suspicious_change` alert: a completed backup whose change looked like mass encryption (change-rule.ts).
 * Critical, one per backup, linked to the backup's page; its message names the numbers and five example
 * files. An admin's acknowledgement of the backup resolves it.
 */
import type { ChangeSummary } from '../engine/backup/change-summary';
import type { StoredChangeSummary } from '../engine/backup/change-signals';
import type { BackupMetadata } from '../engine/types';
import type { AlertSink } from './alert-sink';

export const suspiciousKey = (backupId: string) => `suspicious_change:${backupId}`;

export async function alertOnSuspiciousChange(alerts: AlertSink, meta: BackupMetadata): Promise<void> {
  if (meta.status !== 'completed' || !meta.suspicious || meta.suspicious_acknowledged_at) return;
  const s = meta.change_summary as StoredChangeSummary | null;
  const reasons = s?.verdict.reasons ?? ['the change against the previous backup looked like mass encryption'];
  const examples = s?.examples ?? [];
  await alerts.raise({
    rule: 'suspicious_change',
    subjectKey: suspiciousKey(meta.backup_id),
    severity: 'critical',
    message:
      `Backup ${meta.backup_id} of ${meta.sources.join(', ')} looks like mass encryption: ${reasons.join('; ')}.` +
      (s ? ` ${counts(s)}.` : '') +
      (examples.length ? ` Examples: ${examples.join(', ')}.` : '') +
      ` The last good backup before it is kept from retention until an admin acknowledges (plexichat-backup backup acknowledge ${meta.backup_id}).`,
    path: `/backups/${meta.backup_id}`,
    details: { backup_id: meta.backup_id, sources: meta.sources, reasons, examples, ...(s ? { summary: pick(s) } : {}) },
  });
}

function counts(s: ChangeSummary): string {
  return `Against ${s.previous_backup_id} (${s.previous_files} files): ${s.changed_files} changed, ${s.new_files} new, ${s.removed_files} removed, ${s.renamed_files} renamed, ${s.entropy_jumps} became random`;
}

function pick(s: ChangeSummary) {
  const { previous_backup_id, previous_files, changed_files, new_files, removed_files, renamed_files, entropy_jumps, changed_bytes, top_new_extension } = s;
  return { previous_backup_id, previous_files, changed_files, new_files, removed_files, renamed_files, entropy_jumps, changed_bytes, top_new_extension };
}
