'use client';
import { useEffect, useState } from 'react';
import { runTimes, viewerZone } from './zone-time';

/**
 * A run time in the schedule's zone, with the viewer's local time beside it when different. The viewer's
 * zone is read after mount, so the server-rendered HTML (no zone) matches the first client render.
 */
export function RunTime({ iso, timezone }: { iso: string; timezone: string }) {
  const [local, setLocal] = useState<string | null>(null);
  useEffect(() => setLocal(viewerZone()), []);
  const t = runTimes(iso, timezone, local ?? timezone);
  return (
    <span data-testid="run-time">
      <span className="tabular-nums text-slate-800">{t.inZone}</span>
      {t.local && <span className="ml-2 text-xs text-slate-500">({t.local} your time)</span>}
    </span>
  );
}
