/**
 * One AlertService per engine, and the one-line hooks the faces call where events happen (CLI verify and
 * restore, the tRPC verify procedure). A hook never throws: alerting must not fail the operation.
 */
import type { BackupEngine } from '../engine/engine';
import { EngineError } from '../engine/errors';
import type { DrillResult } from '../engine/restore/drill';
import type { BackupMetadata, VerifyResult } from '../engine/types';
import { AlertService } from './alert-service';
import { suspiciousKey } from './change-alerts';

const services = new WeakMap<BackupEngine, AlertService>();

export function alertsFor(engine: BackupEngine, log?: (line: string) => void): AlertService {
  let s = services.get(engine);
  if (!s) {
    s = new AlertService(engine.catalog.db, engine.config, { log, keys: () => engine.secretKeys() });
    services.set(engine, s);
  }
  return s;
}

async function safely(fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
  } catch (err) {
    console.error(`[plexichat] alerts: ${(err as Error).message}`);
  }
}

export const alertOnVerify = (engine: BackupEngine, result: VerifyResult) => safely(() => alertsFor(engine).onVerify(result));
export const alertOnBackup = (engine: BackupEngine, meta: BackupMetadata) => safely(() => alertsFor(engine).onBackupFinished(meta));
export const alertOnDrill = (engine: BackupEngine, r: DrillResult) => safely(() => alertsFor(engine).onDrillFinished(r));
/** An admin acknowledged a suspicious backup: its suspicious_change alert is resolved. */
export const resolveSuspiciousAlert = (engine: unknown, backupId: string, actor: string) =>
  isEngine(engine) ? safely(async () => void (await alertsFor(engine).resolve(suspiciousKey(backupId), `acknowledged by ${actor}`))) : Promise.resolve();
export const alertOnRestore = (engine: BackupEngine, r: { backup_id: string; duration_seconds: number; ok: boolean; error?: string }) => safely(() => alertsFor(engine).onRestore(r));

/**
 * Alerts on a backup's outcome once `done` settles (completed resolves an open `backup_failed` of the same
 * sources, failed raises one). Never rejects; `done` itself is left to the caller.
 */
export async function watchBackup(engine: unknown, backupId: string, done: Promise<BackupMetadata>): Promise<void> {
  if (!isEngine(engine)) return;
  const meta = await done.catch(() => engine.getBackup(backupId).catch(() => null));
  if (meta) await alertOnBackup(engine, meta);
}

/** Runs a restore and alerts on its outcome (failed, or slower than recovery_time_warning); rethrows. */
export async function watchRestore<T extends { duration_seconds: number }>(engine: unknown, backupId: string, restore: () => Promise<T>): Promise<T> {
  const started = Date.now();
  try {
    const r = await restore();
    if (isEngine(engine)) await alertOnRestore(engine, { backup_id: backupId, duration_seconds: r.duration_seconds, ok: true });
    return r;
  } catch (err) {
    // Only data problems alert (lost shards, storage down), not a refused target or a typo.
    const dataProblem = err instanceof EngineError && (err.code === 'INTEGRITY' || err.code === 'UNAVAILABLE');
    if (dataProblem && isEngine(engine)) await alertOnRestore(engine, { backup_id: backupId, duration_seconds: (Date.now() - started) / 1000, ok: false, error: err.message });
    throw err;
  }
}

function isEngine(e: unknown): e is BackupEngine {
  return typeof e === 'object' && e !== null && 'catalog' in e && 'config' in e;
}

/** For faces that hold the engine behind an interface (tRPC services): alerts only on a real engine. */
export async function alertOnDrillIfEngine(engine: unknown, r: DrillResult): Promise<void> {
  if (isEngine(engine)) await alertOnDrill(engine, r);
}

export async function alertOnVerifyIfEngine(engine: unknown, result: VerifyResult): Promise<void> {
  if (isEngine(engine)) await alertOnVerify(engine, result);
}
