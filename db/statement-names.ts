/**
 * Named prepared statements on the embedded catalog, whose one PGlite session every connection shares
 * (embedded-server.ts): each connection's statement names are given a prefix of its own in the messages
 * that carry one (Parse, Bind, and Describe or Close of a statement), so two connections that prepare the same
 * name — every `pg` client caches its prepared statements per connection — never meet, and a closed
 * connection's statements can be deallocated. Unnamed statements pass untouched.
 */

export interface ScopedMessage {
  message: Uint8Array;
  /** The session-wide name a Parse message created. */
  prepared?: string;
  /** The session-wide name a Close message releases. */
  closed?: string;
}

/** Rewrites the statement name of one frontend message (type byte, length, body) with `prefix`. */
export function scopeStatementName(message: Uint8Array, prefix: string): ScopedMessage {
  const kind = message[0];
  if (kind === 0x50 /* P */) return renameAt(message, 5, prefix, 'prepared');
  if (kind === 0x42 /* B */) {
    const statementAt = message.indexOf(0, 5) + 1; // after the portal's name
    return statementAt > 0 ? renameAt(message, statementAt, prefix) : { message };
  }
  if ((kind === 0x44 /* D */ || kind === 0x43) /* C */ && message[5] === 0x53 /* S */) return renameAt(message, 6, prefix, kind === 0x43 ? 'closed' : undefined);
  return { message };
}

/** The DEALLOCATE of a session-wide name made by scopeStatementName. */
export function deallocate(name: string): string {
  return `DEALLOCATE "${name.replace(/"/g, '""')}"`;
}

function renameAt(message: Uint8Array, at: number, prefix: string, report?: 'prepared' | 'closed'): ScopedMessage {
  const end = message.indexOf(0, at);
  if (end < 0 || end === at) return { message }; // malformed (PGlite answers it) or unnamed
  const name = prefix + Buffer.from(message.subarray(at, end)).toString('utf8');
  const renamed = Buffer.from(name, 'utf8');
  const out = Buffer.allocUnsafe(message.length - (end - at) + renamed.length);
  out.set(message.subarray(0, at), 0);
  renamed.copy(out, at);
  out.set(message.subarray(end), at + renamed.length);
  out.writeInt32BE(out.length - 1, 1);
  return report ? { message: out, [report]: name } : { message: out };
}
