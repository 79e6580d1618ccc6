/** Axis helpers shared by the charts: round tick values and short time labels. */

/** A round step (1, 2 or 5 × 10^n) that splits 0..max into about `count` parts. */
export function niceStep(max: number, count = 4): number {
  if (!Number.isFinite(max) || max <= 0) return 1;
  const raw = max / count;
  const pow = 10 ** Math.floor(Math.log10(raw));
  const f = raw / pow;
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * pow;
}

/** Round ticks from 0 to the first step at or above `max`: niceTicks(7.3) → [0, 2, 4, 6, 8]. */
export function niceTicks(max: number, count = 4): number[] {
  const step = niceStep(max, count);
  const n = Math.max(1, Math.ceil(max / step - 1e-9));
  // toPrecision trims float noise (0.30000000000000004).
  return Array.from({ length: n + 1 }, (_, i) => Number((i * step).toPrecision(12)));
}

/** "Dec 02, 14:05" in the viewer's zone: chart axes are read at a glance, the tooltip says more. */
export const shortTime = (t: string | number) => new Date(t).toLocaleString(undefined, { month: 'short', day: '2-digit', hour: '2-digit', minute: '2-digit' });

/** The binary unit that keeps `max` bytes between 1 and 1024 of it (values are charted in that unit, so ticks stay round). */
export function byteUnit(max: number): { unit: string; div: number } {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let i = 0;
  while (i < units.length - 1 && max >= 1024 ** (i + 1)) i++;
  return { unit: units[i]!, div: 1024 ** i };
}

/** A time axis domain: the samples' span, widened to an hour around a single instant (so its ticks are not one label repeated). */
export function timeDomain(times: number[], from?: number, to?: number): [number, number] {
  const lo = from ?? Math.min(...times);
  const hi = to ?? Math.max(...times);
  return hi > lo ? [lo, hi] : [lo - 1_800_000, hi + 1_800_000];
}
