/**
 * Codec threads started before the engine loads (server/worker-prestart.mjs, bin/): the codec pool adopts
 * them instead of starting its own, a thread that died before it was adopted is never handed out, and threads
 * nobody adopted never keep a process alive.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { APP_ROOT } from '../../db/paths';
import { distEntry } from '../../server/dist.mjs';
import { CodecPool } from '../../server/engine/repository/codec-pool';
import { prestartWorkers, takePrestarted } from '../../server/worker-prestart.mjs';

/** The entry the pool starts its threads from (codec-pool.ts startSlot). */
const poolEntry = () => distEntry(APP_ROOT, 'codec-worker') ?? path.join(APP_ROOT, 'server', 'engine', 'repository', 'worker-entry.mjs');

describe('prestarted codec threads', () => {
  it('are adopted by the pool (its codec thread and its scan thread), which then starts none of its own', async () => {
    const entry = poolEntry();
    prestartWorkers(entry, 2);
    const pool = new CodecPool(1);
    try {
      pool.startThreads();
      expect(pool.started).toBe(1);
      const left = takePrestarted(entry);
      await left?.terminate();
      expect(left).toBeNull(); // both were taken
      // They work: a round trip through the codec thread.
      const enc = await pool.encode(Buffer.from('prestarted'), { label: 'l', keyId: 'k', key: null, cipher: 'none', compression: 'none', level: 3 });
      expect((await pool.decode(enc.stored, 'l', {}, { allowPlain: true })).toString()).toBe('prestarted');
    } finally {
      await pool.close();
    }
  });

  it('a thread that died before it was adopted is not handed out', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'prestart-'));
    try {
      const entry = path.join(dir, 'fails.mjs');
      writeFileSync(entry, "throw new Error('cannot load');\n");
      const [worker] = prestartWorkers(entry, 1);
      await new Promise((resolve) => worker!.once('exit', resolve)); // after its 'error'
      expect(takePrestarted(entry)).toBeNull();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('threads nobody adopted do not keep the process alive', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'prestart-exit-'));
    try {
      const file = path.join(dir, 'exit.mjs');
      writeFileSync(
        file,
        `import { prestartWorkers } from ${JSON.stringify(path.join(APP_ROOT, 'server', 'worker-prestart.mjs'))};
        prestartWorkers(${JSON.stringify(poolEntry())}, 2);
        console.log('started');`,
      );
      const r = spawnSync(process.execPath, [file], { encoding: 'utf8', timeout: 20_000 });
      expect(r.stdout.trim()).toBe('started');
      expect(r.signal).toBeNull(); // not killed by the timeout
      expect(r.status).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
