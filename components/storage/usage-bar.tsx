import { formatBytes } from '../format';

/** Used bytes against capacity (or, without a capacity, just the amount). */
export function UsageBar({ used, capacity }: { used: number; capacity: number | null }) {
  const pct = capacity ? Math.min(100, (used / capacity) * 100) : null;
  const tone = pct === null ? 'bg-indigo-400' : pct >= 90 ? 'bg-red-500' : pct >= 80 ? 'bg-amber-500' : 'bg-emerald-500';
  return (
    <div>
      <div className="h-2 w-full overflow-hidden rounded-full bg-slate-100" role="meter" aria-valuenow={pct ?? undefined} aria-valuemin={0} aria-valuemax={100}>
        <div className={`h-full ${tone}`} style={{ width: `${pct ?? (used > 0 ? 100 : 0)}%`, opacity: pct === null ? 0.35 : 1 }} />
      </div>
      <div className="mt-1 flex justify-between text-xs text-slate-500">
        <span>{formatBytes(used)} used</span>
        <span>{capacity ? `${pct!.toFixed(1)}% of ${formatBytes(capacity)}` : 'no capacity limit'}</span>
      </div>
    </div>
  );
}
