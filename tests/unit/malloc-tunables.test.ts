/**
 * glibc's malloc tunables for PlexiChat's processes: how they join an operator's environment, and the CLI's
 * interpreter line, which must set the same values (glibc reads them only when a process starts).
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { MALLOC_ENV, withMallocTunables } from '../../server/malloc-tunables.mjs';

const CLI = path.resolve(__dirname, '../../bin/plexichat-backup.mjs');

describe('malloc tunables', () => {
  it('are added to an environment, and the given object is left as it was', () => {
    const env = { PATH: '/usr/bin' };
    expect(withMallocTunables(env)).toEqual({ PATH: '/usr/bin', MALLOC_ARENA_MAX: '2', MALLOC_MMAP_THRESHOLD_: '4194304' });
    expect(env).toEqual({ PATH: '/usr/bin' });
  });

  it("leave an operator's own value of either variable as it is", () => {
    expect(withMallocTunables({ MALLOC_ARENA_MAX: '8' })).toEqual({ MALLOC_ARENA_MAX: '8', MALLOC_MMAP_THRESHOLD_: '4194304' });
    expect(withMallocTunables({ MALLOC_MMAP_THRESHOLD_: '0' })).toEqual({ MALLOC_ARENA_MAX: '2', MALLOC_MMAP_THRESHOLD_: '0' });
  });

  it("are what the CLI's interpreter line sets, and that line starts node with them", () => {
    const line = readFileSync(CLI, 'utf8').split('\n', 1)[0]!;
    const m = /^#!(\/usr\/bin\/env) -S (.*)$/.exec(line);
    expect(m, line).not.toBeNull();
    const assignments = Object.entries(MALLOC_ENV).map(([k, v]) => `${k}=${v}`);
    expect(m![2]!.split(' node ')[0]!.split(' ').sort()).toEqual(assignments.sort());
    // What the kernel runs for ./bin/plexichat-backup.mjs, with a script that prints the variables instead.
    const script = `-p "[process.env.MALLOC_ARENA_MAX, process.env.MALLOC_MMAP_THRESHOLD_].join()"`;
    const r = spawnSync(m![1]!, ['-S', `${m![2]} ${script}`], { encoding: 'utf8', env: { ...process.env, MALLOC_ARENA_MAX: undefined, MALLOC_MMAP_THRESHOLD_: undefined } });
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe(`${MALLOC_ENV.MALLOC_ARENA_MAX},${MALLOC_ENV.MALLOC_MMAP_THRESHOLD_}`);
  });
});
