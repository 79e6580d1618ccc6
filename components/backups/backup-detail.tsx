'use client';
import { useQuery } from '@tanstack/react-query';
import { formatBytes, formatDate, formatDuration, formatPercent, formatRatio, plural } from '../format';
import { useCan } from '../session';
import { useTRPC } from '../trpc/client';
import { StatusBadge } from '../ui/badge';
import { ButtonLink } from '../ui/button';
import { Card, DefinitionList, PageHeader } from '../ui/card';
import { ErrorBox, Loading } from '../ui/feedback';
import { DeleteBackup } from './delete-backup';
import { SuspiciousBadge, SuspiciousChange } from './suspicious-change';
import { backupTitle, ProgressView, useBackupProgress } from './progress-view';
import { BackupFiles } from './backup-files';
import { RestoreForm } from './restore-form';
import { ShardMap } from './shard-map';
import { VerifyPanel } from './verify-panel';
import { DrillPanel } from './drill-panel';
import { BackupRestores } from '../restores/restore-list';

export function BackupDetail({ backupId }: { backupId: string }) {
  const trpc = useTRPC();
  const canVerify = useCan('backup.verify');
  const canRestore = useCan('backup.recover');
  const canDelete = useCan('backup.delete');
  const { data: b, error, isPending } = useQuery(
    trpc.backup.get.queryOptions({ backupId }, { refetchInterval: (q) => (q.state.data?.status === 'running' || q.state.data?.status === 'pending' ? 1000 : false) }),
  );
  const active = b?.status === 'running' || b?.status === 'pending';
  const live = useBackupProgress(backupId, active).data;
  if (isPending) return <Loading />;
  if (error)
    return (
      <div className="space-y-3">
        <ErrorBox error={error} title="Could not load this backup" />
        <ButtonLink href="/backups" variant="secondary">
          Back to backups
        </ButtonLink>
      </div>
    );
  const done = b.status === 'completed';
  // Sizes, ratios and counts are written when a backup completes; before that they read 0 ("0 B, dedup 100 %").
  const final = <T,>(v: T) => (done ? v : '—');
  return (
    <div className="space-y-4">
      <PageHeader
        title={backupTitle(b.status)}
        subtitle={
          <span className="flex flex-wrap items-center gap-2">
            <span className="font-mono text-xs">{b.backup_id}</span>
            <StatusBadge status={b.status} />
            <SuspiciousBadge b={b} />
          </span>
        }
        actions={canDelete ? <DeleteBackup backupId={b.backup_id} running={b.status === 'running'} /> : null}
      />
      {active && (
        <Card title="Progress">
          <ProgressView backupId={b.backup_id} />
        </Card>
      )}
      {b.error && <ErrorBox error={{ message: b.error }} title="This backup failed" />}
      <SuspiciousChange b={b} />
      <Card title="Details">
        <DefinitionList
          items={[
            ['Sources', b.sources.join(', ')],
            ['Type', b.backup_type],
            ['Security level', b.security_level],
            ['Created by', b.user_id ?? 'CLI'],
            ['Data', active ? liveData(live) : final(`${formatBytes(b.original_size)} in ${plural(b.file_count, 'file')}`)],
            ['Shards', final(`${b.shard_count} (${b.new_shard_count} new)`)],
            ['New data stored', final(formatBytes(b.new_bytes))],
            ['Referenced (stored)', final(formatBytes(b.stored_size))],
            ['Compression', final(formatRatio(b.compression_ratio))],
            ['Already stored (dedup)', final(formatPercent(b.dedup_ratio))],
            ['Duration', done ? formatDuration(b.duration_seconds) : '—'],
            ['Throughput', done ? `${b.throughput_mbps.toFixed(1)} MB/s` : '—'],
            ['Started', formatDate(b.started_at)],
            ['Completed', formatDate(b.completed_at)],
            ['Retention', `${b.retention_days} days (expires ${formatDate(b.expires_at)})`],
            ['Priority', String(b.priority)],
            ['Tags', b.tags.length ? b.tags.join(', ') : '—'],
          ]}
        />
      </Card>
      {done && (canVerify || canRestore) && (
        <div className="grid gap-4 lg:grid-cols-2">
          {canVerify && <VerifyPanel backupId={b.backup_id} />}
          {canRestore && <RestoreForm backupId={b.backup_id} needsQuorum={b.security_level === 'maximum'} />}
        </div>
      )}
      {done && <BackupRestores backupId={b.backup_id} />}
      {done && <DrillPanel backupId={b.backup_id} />}
      {done && b.security_level === 'maximum' && (
        <Card title="Files">
          <p className="text-sm text-slate-600" data-testid="files-need-quorum">
            The file list of a MAXIMUM backup is sealed to the key holders&apos; quorum, so the console does not show it. Restore it above with k of their shares, or list it with{' '}
            <code>plexichat-backup ls {b.backup_id} --share …</code>.
          </p>
        </Card>
      )}
      {done && b.security_level !== 'maximum' && <BackupFiles backupId={b.backup_id} />}
      <ShardMap backupId={b.backup_id} />
    </div>
  );
}

/** A running backup's data so far, from its live progress. */
function liveData(p: { bytes_done: number; bytes_total: number; files_done: number; files_total: number } | undefined): string {
  if (!p) return '—';
  return `${formatBytes(p.bytes_done)} of ${formatBytes(p.bytes_total)} so far · ${p.files_done} of ${plural(p.files_total, 'file')}`;
}
