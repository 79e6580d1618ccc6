import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkEntryPath, parseEntry, resolveInside } from '../../server/engine/repository/manifest';

describe('manifest paths', () => {
  it('accepts ordinary relative paths, unicode included', () => {
    expect(checkEntryPath('a/b/c.txt')).toBe('a/b/c.txt');
    expect(resolveInside('/restore', 'ünï/📦 file')).toBe(path.join('/restore', 'ünï', '📦 file'));
    expect(resolveInside('/restore/', 'a/b')).toBe('/restore/a/b');
    expect(resolveInside('/', 'etc/x')).toBe('/etc/x');
  });

  it.each(['.hidden', 'a/..b', 'a/b..', '...', 'a/.../b', '1:x', 'a/C:', 'x'])('accepts the name-like path %j', (p) => {
    expect(checkEntryPath(p)).toBe(p);
  });

  it.each(['../etc/passwd', 'a/../../x', '/etc/passwd', 'a//b', './a', 'a/.', 'C:/windows', 'a\\..\\b', 'nul\0byte', '', '..', '.', 'a/', 'a/..', '/', 'z:', 'a\\b', 'x'.repeat(4097)])('refuses %j', (p) => {
    expect(() => checkEntryPath(p)).toThrow(/escape the restore target/);
    expect(() => resolveInside('/restore', p)).toThrow(/escape the restore target/);
    expect(() => parseEntry(JSON.stringify({ p, t: 'f', m: 420, mt: 0 }))).toThrow(/escape the restore target/);
  });

  it('refuses unknown entry types', () => {
    expect(() => parseEntry(JSON.stringify({ p: 'x', t: 'dev', m: 0, mt: 0 }))).toThrow(/unknown type/);
  });
});
