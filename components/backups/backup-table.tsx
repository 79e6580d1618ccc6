'use client';
import Link from 'next/link';
import type { Backup } from '../trpc/client';
import { formatBytes, formatDuration, timeAgo } from '../format';
import { StatusBadge } from '../ui/badge';

export function BackupTable({ items, compact = false }: { items: Backup[]; compact?: boolean }) {
  return (
    <div className="overflow-x-auto">
      <table className="w-full text-left text-sm">
        <thead className="border-b border-slate-200 text-xs uppercase tracking-wide text-slate-500">
          <tr>
            <th className="py-2 pr-3 font-medium">Backup</th>
            <th className="py-2 pr-3 font-medium">Status</th>
            {!compact && <th className="hidden py-2 pr-3 font-medium md:table-cell">Type</th>}
            <th className="py-2 pr-3 text-right font-medium">Size</th>
            {!compact && <th className="hidden py-2 pr-3 text-right font-medium sm:table-cell">Files</th>}
            {!compact && <th className="hidden py-2 pr-3 text-right font-medium lg:table-cell">Duration</th>}
            {!compact && <th className="hidden py-2 pr-3 font-medium lg:table-cell">Tags</th>}
            <th className="py-2 text-right font-medium">Created</th>
          </tr>
        </thead>
        <tbody className="divide-y divide-slate-100">
          {items.map((b) => (
            <tr key={b.backup_id} className="hover:bg-slate-50">
              <td className="max-w-[16rem] py-2 pr-3">
                <Link href={`/backups/${encodeURIComponent(b.backup_id)}`} className="block truncate font-mono text-xs text-indigo-700 hover:underline">
                  {b.backup_id}
                </Link>
                <div className="truncate text-xs text-slate-500" title={b.sources.join(', ')}>
                  {b.sources.join(', ')}
                </div>
              </td>
              <td className="py-2 pr-3">
                <StatusBadge status={b.status} />
              </td>
              {!compact && <td className="hidden py-2 pr-3 md:table-cell">{b.backup_type}</td>}
              <td className="py-2 pr-3 text-right tabular-nums">{formatBytes(b.original_size)}</td>
              {!compact && <td className="hidden py-2 pr-3 text-right tabular-nums sm:table-cell">{b.file_count}</td>}
              {!compact && <td className="hidden py-2 pr-3 text-right tabular-nums lg:table-cell">{b.status === 'completed' ? formatDuration(b.duration_seconds) : '—'}</td>}
              {!compact && (
                <td className="hidden py-2 pr-3 lg:table-cell">
                  <div className="flex flex-wrap gap-1">
                    {b.tags.map((t) => (
                      <span key={t} className="rounded bg-slate-100 px-1.5 py-0.5 text-xs text-slate-600">
                        {t}
                      </span>
                    ))}
                  </div>
                </td>
              )}
              <td className="whitespace-nowrap py-2 text-right text-xs text-slate-500" title={b.created_at}>
                {timeAgo(b.created_at)}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
