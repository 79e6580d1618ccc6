import pkg from '@/package.json';
import { getEngine } from '@/server/context';

export interface HealthReport {
  status: 'ok' | 'degraded' | 'down';
  version: string;
  database: { ok: boolean; mode: string | null; latency_ms: number | null; error: string | null };
  storage: { name: string; type: string; reachable: boolean; latency_ms: number | null; error: string | null }[];
  checked_at: string;
}

const withTimeout = <T>(p: Promise<T>, ms: number, what: string) =>
  Promise.race([p, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${what} did not answer within ${ms / 1000}s`)), ms))]);

export async function checkHealth(): Promise<HealthReport> {
  const report: HealthReport = {
    status: 'ok',
    version: pkg.version,
    database: { ok: false, mode: null, latency_ms: null, error: null },
    storage: [],
    checked_at: new Date().toISOString(),
  };
  try {
    const engine = await withTimeout(getEngine(), 30_000, 'the backup engine');
    report.database.mode = engine.catalog.mode;
    const t0 = performance.now();
    await withTimeout(engine.catalog.pool.query('SELECT 1'), 5_000, 'the database');
    report.database.ok = true;
    report.database.latency_ms = Math.round((performance.now() - t0) * 100) / 100;
    const health = await withTimeout(engine.getStorageHealth(), 10_000, 'the storage health check');
    report.storage = health.map((h) => ({ name: h.name, type: h.type, reachable: h.reachable, latency_ms: h.latency_ms, error: h.reachable ? null : h.last_error }));
    if (report.storage.some((s) => !s.reachable)) report.status = 'degraded';
  } catch (err) {
    report.database.error = (err as Error).message;
    report.status = 'down';
  }
  return report;
}
