/**
 * Every storage call is bounded, local ones too: a location on a path that never answers (a FIFO with no
 * writer blocks open() for good) fails with an error naming the location and the operation; "Test" of a
 * path under /proc returns at once instead of spinning a thread; a relative path is refused.
 */
import { execFileSync } from 'node:child_process';
import { openSync, closeSync, constants } from 'node:fs';
import { mkdtemp, mkdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateLocation } from '../../server/engine/storage/location-store';
import { createBackend } from '../../server/engine/storage/factory';
import { probeLocation } from '../../server/engine/storage/probe';
import type { StorageLocationConfig } from '../../server/config';

let dir: string;
const local = (name: string, p: string): StorageLocationConfig => ({ name, type: 'local', path: p, priority: 10, region: 'local', enabled: true });

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'pxtimeout-'));
});
afterAll(async () => rm(dir, { recursive: true, force: true }));

describe('storage timeouts', () => {
  it('a local read that never returns fails after storage_timeout_seconds, naming the location and the call', async () => {
    const root = path.join(dir, 'fifo-loc');
    await mkdir(path.join(root, 'data'), { recursive: true });
    const fifo = path.join(root, 'data', 'stuck');
    execFileSync('mkfifo', [fifo]);
    const backend = await createBackend(local('slow-disk', root), { timeoutMs: 400, retries: 3, backoffMs: 1 });
    const started = Date.now();
    try {
      await expect(backend.get('data/stuck')).rejects.toThrow(/^slow-disk: get data\/stuck timed out after 0\.4 s; check that the location is reachable, or raise storage_timeout_seconds/);
      expect(Date.now() - started).toBeLessThan(3000); // one attempt: local calls are not retried
    } finally {
      // Free the thread-pool thread still blocked in open(): a writer end lets it return.
      closeSync(openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK));
    }
  });

  it('"Test" of a local location under /proc returns promptly with the reason', async () => {
    for (const p of ['/proc/self/plexichat-backups', '/proc/1/task/plexichat']) {
      const started = Date.now();
      const r = await probeLocation(local('proc', p), { timeoutMs: 5000, retries: 0, backoffMs: 0 });
      expect(Date.now() - started).toBeLessThan(4000);
      expect(r.ok).toBe(false);
      expect(r.error).toMatch(/^proc: cannot create \/proc\/.+: ENOENT/);
    }
  });

  it('a working local location still passes the test', async () => {
    const r = await probeLocation(local('ok', path.join(dir, 'a', 'b', 'c')), { timeoutMs: 5000, retries: 0, backoffMs: 0 });
    expect(r).toMatchObject({ ok: true, error: null });
  });

  it('refuses a relative path for a local location', () => {
    expect(() => validateLocation({ name: 'rel', type: 'local', path: 'backups/here' })).toThrow(/path "backups\/here" is relative; give an absolute path/);
    expect(() => validateLocation({ name: 'rel', type: 'local', path: './x' })).toThrow(/relative/);
    expect(validateLocation({ name: 'abs', type: 'local', path: '/srv/backups' }).path).toBe('/srv/backups');
  });
});
