/**
 * The local backend makes a write durable: the temp file is fsynced, renamed into place, and then the
 * directory holding the new name is fsynced (and the parent of every directory the write created).
 */
import { mkdtemp, mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type LocalFs, LocalBackend } from '../../server/engine/storage/local';

/** The real file system, recording each call that matters for durability, in order. */
function recordingFs(root: string): { fs: LocalFs; events: string[] } {
  const events: string[] = [];
  const rel = (p: unknown) => path.relative(root, String(p)).replace(/[0-9a-f]{16}\.tmp$/, '<tmp>') || '.';
  const fs: LocalFs = {
    open: (async (file: string, flags?: string, mode?: number) => {
      const fh = await open(file, flags, mode);
      const name = rel(file);
      return new Proxy(fh, {
        get(target, prop) {
          const v = Reflect.get(target, prop, target) as unknown;
          if (typeof v !== 'function') return v;
          if (prop === 'sync' || prop === 'datasync') {
            return async () => {
              await (v as () => Promise<void>).call(target);
              events.push(`${String(prop)} ${name}`);
            };
          }
          return (v as (...a: unknown[]) => unknown).bind(target);
        },
      });
    }) as LocalFs['open'],
    rename: (async (from: string, to: string) => {
      await rename(from, to);
      events.push(`rename ${rel(from)} -> ${rel(to)}`);
    }) as LocalFs['rename'],
    mkdir: (async (dir: string, opts: { recursive: true }) => {
      const first = await mkdir(dir, opts);
      events.push(`mkdir ${rel(dir)}${first ? ` (created from ${rel(first)})` : ''}`);
      return first;
    }) as LocalFs['mkdir'],
  };
  return { fs, events };
}

describe('local backend durability', () => {
  let root: string;
  beforeEach(async () => {
    root = await mkdtemp(path.join(tmpdir(), 'pxlocal-'));
  });
  afterEach(async () => rm(root, { recursive: true, force: true }));

  it('fsyncs the file, renames it, then fsyncs its directory; a new directory is synced into its parent', async () => {
    const { fs, events } = recordingFs(root);
    const b = new LocalBackend('local', root, fs);
    await b.init();

    await b.put('data/ab/abcd-1', Buffer.from('first'));
    expect(events).toEqual([
      'mkdir data/ab (created from data)',
      'sync data', // data/ab was created: its name lives in data/
      'sync .', // data/ was created too: its name lives in the root
      'datasync .tmp/<tmp>',
      'rename .tmp/<tmp> -> data/ab/abcd-1',
      'sync data/ab', // the new name is durable
    ]);

    events.length = 0;
    await b.put('data/ab/abcd-2', Buffer.from('second')); // the directory is known: no mkdir
    expect(events).toEqual(['datasync .tmp/<tmp>', 'rename .tmp/<tmp> -> data/ab/abcd-2', 'sync data/ab']);

    events.length = 0;
    await b.put('snapshots/s1', Buffer.from('third'));
    await mkdir(path.join(root, 'keys'));
    await b.put('keys/k.json', Buffer.from('fourth'));
    expect(events).toEqual([
      'mkdir snapshots (created from snapshots)',
      'sync .',
      'datasync .tmp/<tmp>',
      'rename .tmp/<tmp> -> snapshots/s1',
      'sync snapshots',
      'mkdir keys', // existed already: nothing to sync for the directory itself
      'datasync .tmp/<tmp>',
      'rename .tmp/<tmp> -> keys/k.json',
      'sync keys',
    ]);
    expect((await readFile(path.join(root, 'data/ab/abcd-1'))).toString()).toBe('first');
    expect((await b.get('keys/k.json')).toString()).toBe('fourth');
  });

  it('a failing directory fsync fails the write (the name may not be durable); EINVAL is tolerated', async () => {
    const { fs } = recordingFs(root);
    let failWith: string | null = 'EIO';
    const failing: LocalFs = {
      ...fs,
      open: (async (file: string, flags?: string, mode?: number) => {
        const fh = await fs.open(file, flags, mode);
        if (flags !== 'r' || !failWith) return fh;
        const code = failWith;
        return new Proxy(fh, {
          get(target, prop) {
            if (prop === 'sync') return async () => Promise.reject(Object.assign(new Error(`${code}: simulated`), { code }));
            const v = Reflect.get(target, prop, target) as unknown;
            return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
          },
        });
      }) as LocalFs['open'],
    };
    const b = new LocalBackend('local', root, failing);
    await b.init();
    await mkdir(path.join(root, 'data', 'cd'), { recursive: true });
    await expect(b.put('data/cd/cdef-1', Buffer.from('x'))).rejects.toMatchObject({ kind: 'unavailable' });
    failWith = 'EINVAL';
    await b.put('data/cd/cdef-2', Buffer.from('y'));
    expect((await b.get('data/cd/cdef-2')).toString()).toBe('y');
  });
});
