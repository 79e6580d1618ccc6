import { formatBytes } from '../format';

export interface UsageFigures {
  used_bytes: number;
  capacity_bytes: number | null;
  capacity_source: 'max_size_gb' | 'file_system' | null;
  free_bytes: number | null;
  total_bytes: number | null;
  usage_percentage: number | null;
}

/** What the bar's right side says: the share of the limit, or how full the disk is and what is free. */
function capacityText(u: UsageFigures): string {
  const pct = u.usage_percentage === null ? '' : `${u.usage_percentage.toFixed(1)}% `;
  if (u.capacity_source === 'max_size_gb' && u.capacity_bytes) return `${pct}of the ${formatBytes(u.capacity_bytes)} limit`;
  if (u.capacity_source === 'file_system' && u.free_bytes !== null && u.total_bytes) return `disk ${pct}full · ${formatBytes(u.free_bytes)} free of ${formatBytes(u.total_bytes)}`;
  return 'no capacity reported (cloud storage)';
}

/**
 * A location's fill level as the server computes it (usage_percentage: against max_size_gb, else the file
 * system's fill), with the bytes this installation stores there.
 */
export function UsageBar({ usage: u }: { usage: UsageFigures }) {
  const pct = u.usage_percentage === null ? null : Math.min(100, u.usage_percentage);
  const tone = pct === null ? 'bg-indigo-400' : pct >= 90 ? 'bg-red-500' : pct >= 80 ? 'bg-amber-500' : 'bg-emerald-500';
  return (
    <div>
      <div className="h-2 w-full overflow-hidden rounded-full bg-slate-100" role="meter" aria-valuenow={pct ?? undefined} aria-valuemin={0} aria-valuemax={100}>
        <div className={`h-full ${tone}`} style={{ width: `${pct ?? (u.used_bytes > 0 ? 100 : 0)}%`, opacity: pct === null ? 0.35 : 1 }} />
      </div>
      <div className="mt-1 flex flex-wrap justify-between gap-x-3 text-xs text-slate-500">
        <span>{formatBytes(u.used_bytes)} of backups</span>
        <span data-testid="usage-capacity">{capacityText(u)}</span>
      </div>
    </div>
  );
}
