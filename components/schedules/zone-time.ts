/** A schedule's run time as the admin reads it: in the schedule's own zone, and in the viewer's when that differs. */
import { formatInZone } from '../format';

export interface RunTimes {
  /** "2026-12-07 01:30 CET": when the run starts, in the schedule's zone. */
  inZone: string;
  /** The same instant in the viewer's zone, or null when it reads the same (same zone or same offset). */
  local: string | null;
}

/** The browser's zone (the server renders none: these run in the client). */
export const viewerZone = (): string => Intl.DateTimeFormat().resolvedOptions().timeZone;

export function runTimes(iso: string, scheduleZone: string, localZone: string): RunTimes {
  let inZone: string;
  try {
    inZone = formatInZone(iso, scheduleZone);
  } catch {
    // An unknown zone: the server refuses it when saved; until then, show UTC rather than nothing.
    return { inZone: formatInZone(iso, 'UTC'), local: null };
  }
  const local = formatInZone(iso, localZone);
  return { inZone, local: local === inZone ? null : local };
}
