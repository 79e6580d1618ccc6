import { Badge } from '../ui/badge';

export interface HealthRow {
  name: string;
  type: string;
  reachable: boolean;
  latency_ms: number | null;
  error_rate: number;
  last_error: string | null;
}

export function LocationHealthList({ health }: { health: HealthRow[] }) {
  return (
    <ul className="space-y-1.5 text-sm">
      {health.map((h) => (
        <li key={h.name} className="flex flex-wrap items-center justify-between gap-2">
          <span className="font-medium text-slate-700">{h.name}</span>
          <span className="flex items-center gap-2 text-xs text-slate-500">
            {h.reachable && h.latency_ms !== null && <span className="tabular-nums">{h.latency_ms.toFixed(1)} ms</span>}
            <Badge tone={h.reachable ? (h.error_rate > 0.05 ? 'amber' : 'green') : 'red'}>{h.reachable ? (h.error_rate > 0.05 ? 'errors' : 'healthy') : 'unreachable'}</Badge>
          </span>
          {!h.reachable && h.last_error && <span className="w-full text-xs text-red-700">{h.last_error}</span>}
        </li>
      ))}
    </ul>
  );
}
