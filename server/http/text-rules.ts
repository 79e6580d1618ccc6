/**
 * What text may contain when it comes from a request: no NUL, no lone UTF-16 surrogate, no control character
 * other than tab, newline and carriage return. Checked once on the raw input of every tRPC call (init.ts)
 * and on the query of the upload route, before anything is written (a NUL reaches PostgreSQL as an error
 * halfway through a job; a lone surrogate cannot be encoded as UTF-8 at all).
 */

// C0 controls except \t \n \r, DEL, and the C1 controls.
const CONTROL = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]/;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Why a string is refused, or null when it is fine. */
export function unsafeTextReason(s: string): string | null {
  const c = CONTROL.exec(s);
  if (c) {
    const code = c[0].charCodeAt(0);
    const name = code === 0 ? 'a NUL character (U+0000)' : `a control character (U+${code.toString(16).toUpperCase().padStart(4, '0')})`;
    return `contains ${name}`;
  }
  if (LONE_SURROGATE.test(s)) return 'contains a lone UTF-16 surrogate (not valid Unicode text)';
  return null;
}

export const TEXT_RULE = 'text may not contain NUL, lone surrogates or control characters other than tab, newline and carriage return';

/** Deeper than this is not an input any procedure takes. */
const MAX_DEPTH = 32;

export interface UnsafeField {
  /** e.g. `tags[1]`, `source.name`, or `(input)` for a bare string. */
  path: string;
  reason: string;
}

/**
 * Walks a parsed JSON value (iteratively: a hostile body cannot overflow the stack) and returns the first
 * string, or object key, that breaks the rule.
 */
export function findUnsafeText(value: unknown): UnsafeField | null {
  const stack: { v: unknown; path: string; depth: number }[] = [{ v: value, path: '', depth: 0 }];
  while (stack.length) {
    const { v, path, depth } = stack.pop()!;
    if (typeof v === 'string') {
      const reason = unsafeTextReason(v);
      if (reason) return { path: path || '(input)', reason };
      continue;
    }
    if (v === null || typeof v !== 'object') continue;
    if (depth >= MAX_DEPTH) return { path: path || '(input)', reason: `is nested more than ${MAX_DEPTH} levels deep` };
    if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push({ v: v[i], path: `${path}[${i}]`, depth: depth + 1 });
      continue;
    }
    const entries = Object.entries(v as Record<string, unknown>);
    for (let i = entries.length - 1; i >= 0; i--) {
      const [k, child] = entries[i]!;
      const childPath = path ? `${path}.${k}` : k;
      const keyReason = unsafeTextReason(k);
      if (keyReason) return { path: path || '(input)', reason: `has a key that ${keyReason}` };
      stack.push({ v: child, path: childPath, depth: depth + 1 });
    }
  }
  return null;
}

/** The message of the 400 for an unsafe field, naming it and the rule. */
export function unsafeTextMessage(f: UnsafeField): string {
  return `Invalid input: ${f.path} ${f.reason}; ${TEXT_RULE}.`;
}

const MAX_NAME_BYTES = 255;

/**
 * Why an uploaded file's name is refused (it becomes a file name on the server and the entry inside the
 * backup), or null when it is fine.
 */
export function uploadNameProblem(name: string | null): string | null {
  if (name === null || name.trim() === '') return 'name the file: ?name=<file name> is required';
  const text = unsafeTextReason(name);
  if (text) return `the file name ${text}; ${TEXT_RULE}`;
  if (name.includes('/') || name.includes('\\')) return 'the file name may not contain "/" or "\\" (a name, not a path)';
  if (name === '.' || name === '..' || name.includes('..')) return 'the file name may not contain ".." (a name, not a path)';
  if (name !== name.trim()) return 'the file name may not begin or end with spaces';
  if (Buffer.byteLength(name, 'utf8') > MAX_NAME_BYTES) return `the file name is longer than ${MAX_NAME_BYTES} bytes`;
  return null;
}
