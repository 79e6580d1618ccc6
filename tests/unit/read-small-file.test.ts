/** The backup's small-file read trusts no size: a file that grew or shrank since the walk is read as it is now. */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readSmallFile } from '../../server/engine/backup/backup';

describe('readSmallFile', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'small-read-'));
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it.each([
    ['the size the walk saw', 5000, 5000],
    ['an empty file', 0, 0],
    ['a file that grew by one byte', 5000, 5001],
    ['a file that grew past a read block', 100, 3 * 1024 * 1024 + 7],
    ['a file that shrank', 5000, 10],
  ])('reads %s whole', async (_what, walked, actual) => {
    const file = path.join(dir, `f-${walked}-${actual}`);
    const data = randomBytes(actual);
    await writeFile(file, data);
    expect((await readSmallFile(file, walked)).equals(data)).toBe(true);
  });

  it('fails with the errno of a file that vanished', async () => {
    await expect(readSmallFile(path.join(dir, 'gone'), 10)).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
