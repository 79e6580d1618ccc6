'use client';
import { useMutation } from '@tanstack/react-query';
import { formatBytes, formatDate } from '../format';
import { useTRPC } from '../trpc/client';
import { Button } from '../ui/button';
import { useConfirm } from '../ui/confirm-dialog';
import { Card } from '../ui/card';
import { ErrorBox, Notice } from '../ui/feedback';

/** Admins: re-place replicas (storage optimize) and remove orphan objects (storage gc), each with a preview first. */
export function StorageMaintenance() {
  const trpc = useTRPC();
  const optimize = useMutation(trpc.storage.optimize.mutationOptions());
  const gc = useMutation(trpc.storage.gc.mutationOptions());
  const [dialog, confirm] = useConfirm();
  const o = optimize.data;
  const g = gc.data;
  return (
    <Card title="Maintenance">
      {dialog}
      <div className="space-y-4 text-sm">
        <section className="space-y-2">
          <div className="flex flex-wrap items-center justify-between gap-2">
            <div>
              <h3 className="font-medium text-slate-800">Optimize placement</h3>
              <p className="text-xs text-slate-500">Moves replicas off disabled, removed or over-capacity locations and spreads single-region shards — copies first, drops after.</p>
            </div>
            <span className="flex gap-2">
              <Button variant="secondary" busy={optimize.isPending && optimize.variables?.dryRun} onClick={() => optimize.mutate({ dryRun: true })}>
                Preview optimize
              </Button>
              <Button busy={optimize.isPending && !optimize.variables?.dryRun} onClick={async () => (await confirm({ title: 'Move replicas now?', body: 'Copies shards to their new locations first, then drops the old replicas. Run the preview to see what moves.', confirmLabel: 'Optimize now' })) && optimize.mutate({ dryRun: false })}>
                Optimize now
              </Button>
            </span>
          </div>
          <ErrorBox error={optimize.error} title="Optimize" />
          {o && (
            <Notice tone={o.problems.length ? 'amber' : 'green'}>
              <span data-testid="optimize-result">
                {o.dry_run ? 'Preview: would add' : 'Added'} {o.copies_added} and {o.dry_run ? 'remove' : 'removed'} {o.copies_removed} replica(s) over {o.moves_total} shard(s) of {o.shards_checked} checked
                {o.problems.length ? ` — ${o.problems.length} problem(s): ${o.problems.slice(0, 3).join('; ')}` : '.'}
              </span>
            </Notice>
          )}
        </section>
        <section className="space-y-2 border-t border-slate-100 pt-3">
          <div className="flex flex-wrap items-center justify-between gap-2">
            <div>
              <h3 className="font-medium text-slate-800">Orphan objects</h3>
              <p className="text-xs text-slate-500">Objects the catalog does not know (left by interrupted backups or failed deletes) are marked by one run and deleted by a run a grace period later. The daily maintenance does this by itself.</p>
            </div>
            <span className="flex gap-2">
              <Button variant="secondary" busy={gc.isPending && gc.variables?.dryRun} onClick={() => gc.mutate({ dryRun: true })}>
                Preview sweep
              </Button>
              <Button busy={gc.isPending && !gc.variables?.dryRun} onClick={async () => (await confirm({ title: 'Mark and delete orphan objects now?', body: 'Objects marked by an earlier run and still unknown to the catalog are deleted; new ones are marked for a later run.', confirmLabel: 'Sweep now', tone: 'danger' })) && gc.mutate({ dryRun: false })}>
                Sweep now
              </Button>
            </span>
          </div>
          <ErrorBox error={gc.error} title="Orphan sweep" />
          {g && (
            <Notice tone={g.problems.length ? 'amber' : 'green'}>
              <span data-testid="gc-result">
                {g.dry_run ? 'Preview: would mark' : 'Marked'} {g.totals.marked.objects} object(s) ({formatBytes(g.totals.marked.bytes)}), {g.dry_run ? 'delete' : 'deleted'} {g.totals.deleted.objects} ({formatBytes(g.totals.deleted.bytes)}), kept{' '}
                {g.totals.kept.objects}.
                {g.previous_mark && ` Earlier mark of ${formatDate(g.previous_mark.marked_at)}: ${g.previous_mark.state === 'ripe' ? 'due now' : `waits until ${formatDate(g.previous_mark.ripe_at)}${g.previous_mark.waiting_for.length ? ` and for ${g.previous_mark.waiting_for.length} running backup(s)` : ''}`}.`}
                {g.problems.length ? ` Problems: ${g.problems.slice(0, 3).join('; ')}` : ''}
              </span>
            </Notice>
          )}
        </section>
      </div>
    </Card>
  );
}
