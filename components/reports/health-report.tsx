'use client';
import { useQuery } from '@tanstack/react-query';
import Link from 'next/link';
import { useState } from 'react';
import { downloadJson } from '../download';
import { formatBytes, formatDate, formatDuration, formatPercent } from '../format';
import { AlertStateBadge, SeverityBadge } from '../alerts/alert-badges';
import { useTRPC } from '../trpc/client';
import { Badge } from '../ui/badge';
import { Button } from '../ui/button';
import { Card, DefinitionList, PageHeader, Stat } from '../ui/card';
import { ErrorBox, Loading } from '../ui/feedback';
import { Select } from '../ui/form';

const localPath = (link: string) => {
  try {
    return new URL(link).pathname;
  } catch {
    return link;
  }
};

/** The weekly health report (the spec's weekly maintenance): statistics, storage, verify results, alerts, cleanup. */
export function HealthReportView() {
  const trpc = useTRPC();
  const [days, setDays] = useState(7);
  const { data: r, error, isPending } = useQuery(trpc.reports.health.queryOptions({ days }));
  return (
    <div className="space-y-4">
      <PageHeader
        title="Health report"
        subtitle={r ? `${formatDate(r.period.from)} – ${formatDate(r.period.to)}` : 'Statistics, storage, verify results and alerts of a period'}
        actions={
          <>
            <div className="w-40">
              <Select aria-label="Period" value={String(days)} onChange={(e) => setDays(Number(e.target.value))}>
                <option value="7">Last 7 days</option>
                <option value="30">Last 30 days</option>
                <option value="90">Last 90 days</option>
              </Select>
            </div>
            <Button variant="secondary" disabled={!r} onClick={() => r && downloadJson(`health_report_${r.period.to.slice(0, 10).replace(/-/g, '')}.json`, r)}>
              Download JSON
            </Button>
          </>
        }
      />
      <ErrorBox error={error} title="Could not build the report" />
      {isPending && <Loading />}
      {r && (
        <>
          <div className="grid grid-cols-2 gap-3 md:grid-cols-4" data-testid="report-summary">
            <Stat label="Backups in period" value={r.backups_in_period.completed + r.backups_in_period.failed} hint={`${r.backups_in_period.failed} failed (${r.backups_in_period.percent.toFixed(1)}%)`} />
            <Stat label="Verified" value={r.verify.checked} hint={`${r.verify.healthy} healthy · ${r.verify.degraded} degraded · ${r.verify.corrupted} corrupted`} />
            <Stat label="Alerts" value={r.alerts.total} hint={`${r.alerts.open} open · ${r.alerts.acknowledged} acknowledged · ${r.alerts.resolved} resolved`} />
            <Stat label="Data protected" value={formatBytes(r.statistics.total_original_bytes)} hint={`${formatBytes(r.statistics.total_stored_bytes)} stored`} />
          </div>
          <Card title="Backups (all time)">
            <DefinitionList
              items={[
                ['Total', `${r.statistics.total_backups} (${r.statistics.completed_backups} completed, ${r.statistics.failed_backups} failed, ${r.statistics.running_backups} running)`],
                ['Success rate', formatPercent(r.statistics.success_rate)],
                ['Unique shards', r.statistics.unique_shards.toLocaleString()],
                ['Average backup', `${r.statistics.average_backup_seconds.toFixed(1)} s at ${r.statistics.backup_throughput_mbps.toFixed(1)} MB/s`],
                ['Last cleanup', r.maintenance ? `${formatDate(r.maintenance.started_at)}: ${r.maintenance.error ? `failed — ${r.maintenance.error}` : `${r.maintenance.removed} expired removed`}` : 'not run yet'],
              ]}
            />
          </Card>
          <Card title="Storage">
            <table className="w-full text-left text-sm" data-testid="report-storage">
              <thead className="text-xs uppercase text-slate-500">
                <tr>
                  <th className="py-2">Location</th>
                  <th>Type</th>
                  <th>Used</th>
                  <th>Objects</th>
                  <th>Health</th>
                </tr>
              </thead>
              <tbody className="divide-y divide-slate-100">
                {r.storage.usage.map((u) => {
                  const h = r.storage.health.find((x) => x.name === u.name);
                  return (
                    <tr key={u.name}>
                      <td className="py-2 font-medium">
                        <Link className="text-indigo-700 hover:underline" href={`/storage/${encodeURIComponent(u.name)}`}>
                          {u.name}
                        </Link>
                      </td>
                      <td>{u.type}</td>
                      <td>
                        {formatBytes(u.used_bytes)}
                        {u.usage_percentage !== null && ` (${u.usage_percentage.toFixed(1)}%)`}
                      </td>
                      <td>{u.objects.toLocaleString()}</td>
                      <td>{h?.reachable ? <Badge tone="green">reachable{h.latency_ms !== null ? ` · ${h.latency_ms} ms` : ''}</Badge> : <Badge tone="red">unreachable</Badge>}</td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </Card>
          <Card title="Verify results">
            {r.verify.unhealthy.length === 0 ? (
              <p className="text-sm text-slate-600">Every backup verified in this period was healthy.</p>
            ) : (
              <ul className="divide-y divide-slate-100 text-sm">
                {r.verify.unhealthy.map((v) => (
                  <li key={v.backup_id} className="flex flex-wrap gap-2 py-1.5">
                    <Badge tone={v.status === 'corrupted' ? 'red' : 'amber'}>{v.status}</Badge>
                    <Link className="text-indigo-700 hover:underline" href={`/backups/${encodeURIComponent(v.backup_id)}`}>
                      {v.backup_id}
                    </Link>
                    <span className="text-slate-500">
                      {v.lost_shards} lost, {v.bad_shards} bad shard(s), {formatDate(v.verified_at)}
                    </span>
                  </li>
                ))}
              </ul>
            )}
          </Card>
          <Card title={`Restore drills (${r.drills.passed} passed, ${r.drills.failed} failed${r.drills.skipped ? `, ${r.drills.skipped} skipped` : ''})`}>
            {r.drills.items.length === 0 ? (
              <p className="text-sm text-slate-600">No restore drill ran in this period.</p>
            ) : (
              <ul className="divide-y divide-slate-100 text-sm" data-testid="report-drills">
                {r.drills.items.slice(0, 100).map((d) => (
                  <li key={d.drill_id} className="flex flex-wrap items-center gap-2 py-1.5">
                    <Badge tone={d.status === 'passed' ? 'green' : d.status === 'failed' ? 'red' : 'slate'}>{d.status}</Badge>
                    <Link className="text-indigo-700 hover:underline" href={`/backups/${encodeURIComponent(d.backup_id)}`}>
                      {d.sources.join(', ') || d.backup_id}
                    </Link>
                    <span className="text-slate-500">
                      RTO {formatDuration(d.rto_seconds)} · {d.files_checked} file(s), {formatBytes(d.bytes_checked)} · {d.sample_percent} % · {formatDate(d.started_at)}
                    </span>
                    {d.error && <span className={`text-xs ${d.status === 'skipped' ? 'text-slate-600' : 'text-red-700'}`}>{d.error}</span>}
                  </li>
                ))}
              </ul>
            )}
          </Card>
          <Card title="Alerts of the period">
            {r.alerts.items.length === 0 ? (
              <p className="text-sm text-slate-600">No alerts in this period.</p>
            ) : (
              <ul className="divide-y divide-slate-100 text-sm" data-testid="report-alerts">
                {r.alerts.items.slice(0, 100).map((a) => (
                  <li key={a.id} className="flex flex-wrap items-center gap-2 py-1.5">
                    <SeverityBadge severity={a.severity} />
                    <AlertStateBadge state={a.state} />
                    <Link className="min-w-0 flex-1 text-slate-800 hover:underline" href={localPath(a.link)}>
                      {a.message}
                    </Link>
                    <span className="text-xs text-slate-500">{formatDate(a.opened_at)}</span>
                  </li>
                ))}
              </ul>
            )}
          </Card>
        </>
      )}
    </div>
  );
}
