/**
 * Cron expressions of schedules: 5 fields (minute hour day-of-month month day-of-week) and an IANA time
 * zone, parsed with croner. Errors name the field that is wrong.
 */
import { Cron } from 'croner';

export class CronError extends Error {
  override readonly name = 'CronError';
}

const FIELDS = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day-of-month', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12 },
  { name: 'day-of-week', min: 0, max: 7 },
] as const;

const NAMES = /^(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec|sun|mon|tue|wed|thu|fri|sat)$/i;

function checkField(value: string, field: (typeof FIELDS)[number]): string | null {
  for (const part of value.split(',')) {
    const [range, step, extra] = part.split('/');
    if (extra !== undefined || range === undefined || range === '') return `"${part}" is not a valid ${field.name}`;
    if (step !== undefined && !/^[1-9]\d*$/.test(step)) return `step "/${step}" of the ${field.name} field must be a positive whole number`;
    if (range === '*' || (range === '?' && field.name.startsWith('day'))) continue;
    for (const bound of range.split('-')) {
      if (NAMES.test(bound) && (field.name === 'month' || field.name === 'day-of-week')) continue;
      if (!/^\d+$/.test(bound)) return `"${bound}" is not a valid ${field.name} (allowed ${field.min}–${field.max})`;
      const n = Number(bound);
      if (n < field.min || n > field.max) return `${field.name} ${n} is out of range (allowed ${field.min}–${field.max})`;
    }
  }
  return null;
}

function checkTimezone(tz: string): void {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
  } catch {
    throw new CronError(`Unknown time zone "${tz}": use an IANA name such as UTC or Europe/Berlin.`);
  }
}

/** Parses and validates; throws CronError naming the field. */
export function parseCron(expr: string, timezone = 'UTC'): Cron {
  const fields = expr.trim().split(/\s+/);
  if (fields.length !== 5) {
    throw new CronError(`Cron expression "${expr}" has ${fields.length} field(s); it needs 5: minute hour day-of-month month day-of-week.`);
  }
  fields.forEach((value, i) => {
    const problem = checkField(value, FIELDS[i]!);
    if (problem) throw new CronError(`Invalid cron expression "${expr}": ${problem}.`);
  });
  checkTimezone(timezone);
  try {
    return new Cron(fields.join(' '), { timezone, paused: true, mode: '5-part' });
  } catch (err) {
    throw new CronError(`Invalid cron expression "${expr}": ${(err as Error).message}.`);
  }
}

/** The next `n` run times strictly after `from`. */
export function nextRuns(expr: string, timezone: string, n: number, from: Date): Date[] {
  return parseCron(expr, timezone).nextRuns(n, from);
}

/**
 * Due times in (after, now]: `latest` is the most recent one, `skipped` how many earlier ones are folded
 * into it (a run missed while everything was down runs once). Null when nothing is due.
 */
export function dueSince(expr: string, timezone: string, after: Date, now: Date): { latest: Date; skipped: number } | null {
  const cron = parseCron(expr, timezone);
  const first = cron.nextRun(after);
  if (!first || first.getTime() > now.getTime()) return null;
  const prev = cron.previousRuns(1, new Date(now.getTime() + 1))[0];
  const latest = prev && prev.getTime() >= first.getTime() ? prev : first;
  let skipped = 0;
  let t: Date | null = first;
  while (t && t.getTime() < latest.getTime() && skipped < 1000) {
    skipped++;
    t = cron.nextRun(t);
  }
  return { latest, skipped };
}
