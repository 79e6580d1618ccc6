'use client';
import { useQuery } from '@tanstack/react-query';
import { useTRPC } from '../trpc/client';
import { RunTime } from './run-time';

/** The next five runs of a cron expression in its time zone (and the viewer's), or the parse error naming the field. */
export function CronPreview({ cron, timezone }: { cron: string; timezone: string }) {
  const trpc = useTRPC();
  const { data } = useQuery(trpc.schedules.preview.queryOptions({ cron, timezone, count: 5 }, { enabled: cron.trim().length > 0 }));
  if (!cron.trim() || !data) return null;
  if (!data.ok)
    return (
      <p data-testid="cron-error" className="text-sm text-red-700">
        {data.error}
      </p>
    );
  return (
    <div data-testid="cron-preview" className="text-sm text-slate-600">
      <span className="font-medium text-slate-700">Next runs ({timezone}):</span>
      <ol className="mt-1 list-decimal pl-5">
        {data.runs.map((r) => (
          <li key={r}>
            <RunTime iso={r} timezone={timezone} />
          </li>
        ))}
      </ol>
    </div>
  );
}
