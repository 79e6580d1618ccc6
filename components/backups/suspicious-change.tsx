'use client';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { formatDate, plural } from '../format';
import { useCan } from '../session';
import { useTRPC } from '../trpc/client';
import { Badge } from '../ui/badge';
import { Button } from '../ui/button';
import { Card } from '../ui/card';
import { ErrorBox } from '../ui/feedback';

interface Flagged {
  backup_id: string;
  suspicious: boolean;
  suspicious_acknowledged_at: string | null;
  suspicious_acknowledged_by: string | null;
  change_summary: Record<string, unknown> | null;
}

interface Summary {
  previous_backup_id: string;
  previous_files: number;
  changed_files: number;
  new_files: number;
  removed_files: number;
  renamed_files: number;
  entropy_jumps: number;
  top_new_extension: { ext: string; files: number } | null;
  examples: string[];
  verdict: { reasons: string[] };
}

/** "suspicious" in red until an admin acknowledges, then in amber. Nothing for an ordinary backup. */
export function SuspiciousBadge({ b }: { b: Flagged }) {
  if (!b.suspicious) return null;
  return <Badge tone={b.suspicious_acknowledged_at ? 'amber' : 'red'}>{b.suspicious_acknowledged_at ? 'suspicious (acknowledged)' : 'suspicious'}</Badge>;
}

/** Why the backup looks like mass encryption, the numbers, five example files, and the admin's Acknowledge. */
export function SuspiciousChange({ b }: { b: Flagged }) {
  const trpc = useTRPC();
  const qc = useQueryClient();
  const canAck = useCan('backup.acknowledge');
  const ack = useMutation(
    trpc.backup.acknowledge.mutationOptions({
      onSuccess: async () => {
        await qc.invalidateQueries({ queryKey: trpc.backup.get.queryKey({ backupId: b.backup_id }) });
        await qc.invalidateQueries({ queryKey: trpc.backup.list.queryKey() });
      },
    }),
  );
  if (!b.suspicious) return null;
  const s = b.change_summary as unknown as Summary | null;
  return (
    <Card title="Suspicious change">
      <div className="space-y-2 text-sm" data-testid="suspicious-change">
        <ul className="list-disc pl-5 text-red-800">
          {(s?.verdict.reasons ?? ['The change against the previous backup looked like mass encryption.']).map((r) => (
            <li key={r}>{r}</li>
          ))}
        </ul>
        {s && (
          <p className="text-slate-700">
            Against {s.previous_backup_id} ({plural(s.previous_files, 'file')}): {s.changed_files} changed, {s.new_files} new, {s.removed_files} removed, {s.renamed_files} renamed, {s.entropy_jumps} became random
            {s.top_new_extension ? `; most renamed to ${s.top_new_extension.ext} (${s.top_new_extension.files})` : ''}.
          </p>
        )}
        {s?.examples.length ? (
          <p className="text-slate-700">
            Examples: <span className="font-mono text-xs">{s.examples.join(', ')}</span>
          </p>
        ) : null}
        {b.suspicious_acknowledged_at ? (
          <p className="text-slate-600">
            Acknowledged by {b.suspicious_acknowledged_by} on {formatDate(b.suspicious_acknowledged_at)}: retention applies normally again.
          </p>
        ) : (
          <>
            <p className="text-slate-600">Retention keeps this backup and the last good one before it until an admin acknowledges.</p>
            {canAck && (
              <Button variant="danger" busy={ack.isPending} onClick={() => ack.mutate({ backupId: b.backup_id })}>
                Acknowledge
              </Button>
            )}
          </>
        )}
        <ErrorBox error={ack.error} title="Acknowledge failed" />
      </div>
    </Card>
  );
}
