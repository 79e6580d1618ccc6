/** Frontend messages whose statement names the embedded catalog scopes to their connection (db/statement-names.ts). */
import { describe, expect, it } from 'vitest';
import { scopeStatementName } from '../../db/statement-names';

/** A frontend message: type byte, int32 length (itself included), then the body. */
function msg(type: string, ...parts: (string | Buffer)[]): Buffer {
  const body = Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : p)));
  const head = Buffer.alloc(5);
  head.write(type, 0);
  head.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([head, body]);
}
const z = '\0';
const int16 = (n: number) => Buffer.from([n >> 8, n & 255]);

describe('scopeStatementName', () => {
  it('prefixes the name a Parse creates and fixes the length', () => {
    const r = scopeStatementName(msg('P', `lookup${z}SELECT $1${z}`, int16(0)), 'c7_');
    expect(Buffer.from(r.message)).toEqual(msg('P', `c7_lookup${z}SELECT $1${z}`, int16(0)));
    expect(r.prepared).toBe('c7_lookup');
  });

  it('leaves unnamed statements, portals and other messages as they are', () => {
    for (const m of [msg('P', `${z}SELECT 1${z}`, int16(0)), msg('B', `${z}${z}`, int16(0), int16(0), int16(0)), msg('D', `P${z}`), msg('E', `${z}`, Buffer.alloc(4)), msg('S'), msg('Q', `SELECT 1${z}`)]) {
      const r = scopeStatementName(m, 'c7_');
      expect(Buffer.from(r.message)).toEqual(m);
      expect(r.prepared).toBeUndefined();
    }
  });

  it('renames the statement a Bind, a Describe or a Close names; a Close reports it', () => {
    expect(Buffer.from(scopeStatementName(msg('B', `portal${z}lookup${z}`, int16(0)), 'c7_').message)).toEqual(msg('B', `portal${z}c7_lookup${z}`, int16(0)));
    expect(Buffer.from(scopeStatementName(msg('D', `Slookup${z}`), 'c7_').message)).toEqual(msg('D', `Sc7_lookup${z}`));
    const closed = scopeStatementName(msg('C', `Slookup${z}`), 'c7_');
    expect(Buffer.from(closed.message)).toEqual(msg('C', `Sc7_lookup${z}`));
    expect(closed.closed).toBe('c7_lookup');
    expect(Buffer.from(scopeStatementName(msg('C', `Pportal${z}`), 'c7_').message)).toEqual(msg('C', `Pportal${z}`));
  });
});
