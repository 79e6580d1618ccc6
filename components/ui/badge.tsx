import type { ReactNode } from 'react';

type Tone = 'green' | 'red' | 'amber' | 'blue' | 'slate';

const tones: Record<Tone, string> = {
  green: 'bg-emerald-50 text-emerald-700 ring-emerald-600/20',
  red: 'bg-red-50 text-red-700 ring-red-600/20',
  amber: 'bg-amber-50 text-amber-800 ring-amber-600/20',
  blue: 'bg-sky-50 text-sky-700 ring-sky-600/20',
  slate: 'bg-slate-100 text-slate-700 ring-slate-500/20',
};

export function Badge({ tone = 'slate', children }: { tone?: Tone; children: ReactNode }) {
  return <span className={`inline-flex items-center rounded-full px-2 py-0.5 text-xs font-medium ring-1 ring-inset ${tones[tone]}`}>{children}</span>;
}

const STATUS_TONE: Record<string, Tone> = {
  completed: 'green',
  healthy: 'green',
  ok: 'green',
  success: 'green',
  running: 'blue',
  pending: 'slate',
  queued: 'slate',
  degraded: 'amber',
  denied: 'amber',
  missing: 'amber',
  failed: 'red',
  failure: 'red',
  corrupted: 'red',
  bad: 'red',
};

export function StatusBadge({ status }: { status: string }) {
  return <Badge tone={STATUS_TONE[status] ?? 'slate'}>{status}</Badge>;
}
