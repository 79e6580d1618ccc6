/**
 * Pure figures for the tables: median and spread of the runs, ratios against PlexiChat that read the same way
 * for every row (≥ 1.00: PlexiChat is better), and their formatting.
 */

/** Median of the runs and their range. */
export interface Spread {
  median: number;
  min: number;
  max: number;
  n: number;
}

/** Which way is better for a row's figure: times, sizes and memory are better lower, throughputs higher. */
export type Better = 'lower' | 'higher';

export function spreadOf(values: readonly (number | null | undefined)[]): Spread | null {
  const v = values.filter((x): x is number => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  if (!v.length) return null;
  const mid = Math.floor(v.length / 2);
  const median = v.length % 2 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2;
  return { median, min: v[0]!, max: v[v.length - 1]!, n: v.length };
}

/**
 * The other tool against PlexiChat, oriented so that ≥ 1 means PlexiChat is better: for a time, size or memory
 * `other ÷ plexichat` (restic 10 s, PlexiChat 5 s → 2.00); for a throughput `plexichat ÷ other`.
 * Null when either figure is missing or the divisor is zero.
 */
export function ratioVsPlexichat(plexichat: number | null | undefined, other: number | null | undefined, better: Better): number | null {
  if (plexichat == null || other == null) return null;
  const [num, den] = better === 'lower' ? [other, plexichat] : [plexichat, other];
  return den > 0 ? num / den : null;
}

/** A figure with as many digits as it needs: 1,234 · 123 · 12.3 · 1.23 · —. */
export function fmtNumber(v: number | null | undefined): string {
  if (v == null || !Number.isFinite(v)) return '—';
  const a = Math.abs(v);
  if (a >= 1000) return Math.round(v).toLocaleString('en-US');
  return v.toFixed(a >= 100 ? 0 : a >= 10 ? 1 : 2);
}

/** "median (min–max)" over several runs, just the median for one run or when every run gave the same. */
export function fmtSpread(s: Spread | null): string {
  if (!s) return '—';
  const med = fmtNumber(s.median);
  if (s.n < 2) return med;
  const lo = fmtNumber(s.min);
  const hi = fmtNumber(s.max);
  return lo === hi ? med : `${med} (${lo}–${hi})`;
}

export function fmtRatio(v: number | null): string {
  if (v === null || !Number.isFinite(v)) return '—';
  return v !== 0 && Math.abs(v) < 0.01 ? v.toPrecision(2) : v.toFixed(2);
}
