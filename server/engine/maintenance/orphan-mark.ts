/**
 * The mark of storage gc (orphans.ts): the candidates one sweep found, stored in the catalog's settings
 * (`gc:orphans`) with the backups running at that moment, and the rules a later sweep applies to it.
 * Orphan objects are listed in the mark; unreferenced shard rows carry the mark's time in their own
 * `gc_marked_at` column (gc-shards.ts), and the mark only counts them.
 */
import { type SQL, sql } from 'drizzle-orm';
import type { EngineContext } from '../context';
import type { KeepReason, OrphanSweepReport } from './orphan-report';

export const MARK_KEY = 'gc:orphans';

/**
 * A backup reaped as interrupted whose process is in fact alive (it stalled longer than the reaper allows)
 * keeps refreshing its heartbeat and may still record shards: it counts as running while it beats.
 */
const ZOMBIE_HEARTBEAT_MS = 120_000;

/** The mark as stored in the catalog's settings table. */
export interface OrphanMark {
  marked_at: string;
  running_backups_at_mark: string[];
  candidates: Record<string, string[]>;
  /** Unreferenced shard rows marked (gc_marked_at) at or before marked_at; absent in marks of older versions. */
  shards?: number;
}

export interface MarkState {
  /** The previous mark's candidates may be deleted now. */
  ripe: boolean;
  /** New candidates may be marked (there is no mark, or the previous one is done with). */
  canMark: boolean;
  waitReason: KeepReason | null;
}

export interface StoredMark {
  raw: unknown;
  mark: OrphanMark | null;
}
export async function loadMark(ctx: EngineContext): Promise<StoredMark | null> {
  const rows = await ctx.db.execute<{ value: unknown }>(sql`SELECT value FROM settings WHERE key = ${MARK_KEY}`);
  if (!rows.rows.length) return null;
  const raw = rows.rows[0]!.value;
  return { raw, mark: parseMark(raw) };
}

function parseMark(raw: unknown): OrphanMark | null {
  const m = raw as Partial<OrphanMark> | null;
  if (!m || typeof m.marked_at !== 'string' || Number.isNaN(Date.parse(m.marked_at))) return null;
  if (!Array.isArray(m.running_backups_at_mark) || !m.candidates || typeof m.candidates !== 'object') return null;
  if (m.shards !== undefined && typeof m.shards !== 'number') return null;
  const lists = Object.values(m.candidates);
  if (!lists.every((l) => Array.isArray(l) && l.every((k) => typeof k === 'string'))) return null;
  return m as OrphanMark;
}

export async function assessMark(ctx: EngineContext, mark: OrphanMark | null, graceHours: number): Promise<{ state: MarkState; summary: OrphanSweepReport['previous_mark'] }> {
  if (!mark) return { state: { ripe: false, canMark: true, waitReason: null }, summary: null };
  const ripeAt = new Date(Date.parse(mark.marked_at) + graceHours * 3_600_000);
  const base = {
    marked_at: mark.marked_at,
    candidates: Object.values(mark.candidates).reduce((n, l) => n + l.length, 0),
    shards: mark.shards ?? 0,
    running_backups_at_mark: mark.running_backups_at_mark,
    ripe_at: ripeAt.toISOString(),
  };
  if (ctx.now() < ripeAt) {
    return { state: { ripe: false, canMark: false, waitReason: 'grace_period' }, summary: { ...base, state: 'grace_period', waiting_for: [] } };
  }
  const waitingFor = await activeBackupIds(ctx, mark.running_backups_at_mark);
  if (waitingFor.length) {
    return { state: { ripe: false, canMark: false, waitReason: 'backups_running' }, summary: { ...base, state: 'backups_running', waiting_for: waitingFor } };
  }
  return { state: { ripe: true, canMark: true, waitReason: null }, summary: { ...base, state: 'ripe', waiting_for: [] } };
}

/** Backups that may still write or record objects: running ones, and reaped ones whose process still beats. */
export async function activeBackupIds(ctx: EngineContext, among?: string[]): Promise<string[]> {
  if (among && !among.length) return [];
  const since = new Date(ctx.now().getTime() - ZOMBIE_HEARTBEAT_MS);
  const only: SQL = among ? sql`AND id IN (${sql.join(among.map((id) => sql`${id}`), sql`, `)})` : sql``;
  const rows = await ctx.db.execute<{ id: string }>(sql`
    SELECT id FROM backups
    WHERE (status = 'running'
       OR (status = 'failed' AND heartbeat_at > completed_at + interval '5 seconds' AND heartbeat_at > ${since.toISOString()}::timestamptz))
    ${only} ORDER BY id`);
  return rows.rows.map((r) => r.id);
}

/**
 * Writes the next mark, made at `markedAt` (the time written into the shard rows it covers). The backups
 * running are read only now, after every location was listed: any backup that wrote a candidate started
 * before its listing, so it is either in this list or has ended. Compare-and-set on the previous value, so
 * two sweeps at once cannot interleave their marks (shard rows one of them marked meanwhile wait for a mark
 * made after them: a row is deleted only under a mark at least as late as its own).
 */
export async function saveMark(
  ctx: EngineContext,
  previous: StoredMark | null,
  candidates: Record<string, string[]>,
  shards: number,
  markedAt: Date,
  dryRun: boolean,
): Promise<OrphanSweepReport['new_mark']> {
  const objects = Object.values(candidates).reduce((n, l) => n + l.length, 0);
  const count = objects + shards;
  const next: OrphanMark = { marked_at: markedAt.toISOString(), running_backups_at_mark: await activeBackupIds(ctx), candidates, shards };
  const summary = count ? { marked_at: next.marked_at, candidates: objects, shards, running_backups_at_mark: next.running_backups_at_mark } : null;
  if (dryRun) return summary;
  const prev = previous ? JSON.stringify(previous.raw) : null;
  let saved;
  if (!count) {
    if (prev !== null) await ctx.db.execute(sql`DELETE FROM settings WHERE key = ${MARK_KEY} AND value = ${prev}::jsonb`);
    return null;
  } else if (prev === null) {
    saved = await ctx.db.execute(sql`INSERT INTO settings (key, value) VALUES (${MARK_KEY}, ${JSON.stringify(next)}::jsonb) ON CONFLICT (key) DO NOTHING RETURNING key`);
  } else {
    saved = await ctx.db.execute(sql`UPDATE settings SET value = ${JSON.stringify(next)}::jsonb, updated_at = now() WHERE key = ${MARK_KEY} AND value = ${prev}::jsonb RETURNING key`);
  }
  if (saved.rows.length) return summary;
  ctx.log('storage gc: another sweep wrote its mark meanwhile; that mark stands and these candidates are marked by a later sweep');
  return null;
}
