/**
 * A storage location's round trip test (console "Test"): init, then put, get and delete a small probe
 * object, timing the whole. Failures come back as a message with credentials removed.
 */
import { randomBytes } from 'node:crypto';
import type { StorageLocationConfig } from '../../config';
import { isSecretKey } from '../../config-cloud';
import { createBackend, type BackendOptions } from './factory';
import { redact } from './retrying';

export interface ProbeResult {
  ok: boolean;
  latency_ms: number;
  error: string | null;
}

export async function probeLocation(loc: StorageLocationConfig, opts: BackendOptions): Promise<ProbeResult> {
  const started = performance.now();
  const secrets = Object.entries(loc).flatMap(([k, v]) => (isSecretKey(k) && typeof v === 'string' ? [v] : []));
  const elapsed = () => Math.round((performance.now() - started) * 10) / 10;
  let backend: Awaited<ReturnType<typeof createBackend>> | undefined;
  try {
    backend = await createBackend(loc, opts);
    await backend.init();
    const key = `probe/${randomBytes(8).toString('hex')}`;
    const body = randomBytes(64);
    await backend.put(key, body);
    const back = await backend.get(key);
    await backend.delete(key);
    if (!back.equals(body)) return { ok: false, latency_ms: elapsed(), error: 'the probe object read back differs from what was written' };
    return { ok: true, latency_ms: elapsed(), error: null };
  } catch (err) {
    return { ok: false, latency_ms: elapsed(), error: redact((err as Error).message, secrets) };
  } finally {
    await backend?.close().catch(() => undefined);
  }
}
