/**
 * Realistic file contents and change patterns for the ransomware-signal tests: prose, growing logs,
 * compressed media (JPEG-like: a low-entropy header then compressed data; ZIP-like: deflated text), and a
 * seeded random source so a run can be repeated.
 */
import { randomBytes } from 'node:crypto';
import { deflateSync } from 'node:zlib';

export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WORDS = 'the backup of our quarterly report shows that revenue grew while costs in the north region fell by a small margin and the team will review every contract before the audit next month including invoices receipts and payroll data'.split(' ');

export function prose(rand: () => number, bytes: number): Buffer {
  let s = '';
  while (s.length < bytes) {
    const n = 6 + Math.floor(rand() * 12);
    const words: string[] = [];
    for (let i = 0; i < n; i++) words.push(WORDS[Math.floor(rand() * WORDS.length)]!);
    s += `${words.join(' ')}.${rand() < 0.2 ? '\n\n' : ' '}`;
  }
  return Buffer.from(s.slice(0, bytes));
}

export function logLines(rand: () => number, bytes: number, at = Date.UTC(2026, 0, 1)): Buffer {
  let s = '';
  let t = at;
  while (s.length < bytes) {
    t += Math.floor(rand() * 5000);
    const level = rand() < 0.9 ? 'INFO' : rand() < 0.8 ? 'WARN' : 'ERROR';
    s += `${new Date(t).toISOString()} ${level} worker-${Math.floor(rand() * 8)} request ${Math.floor(rand() * 1e6)} served in ${Math.floor(rand() * 900)} ms\n`;
  }
  return Buffer.from(s);
}

/** A JPEG-like file: ~600 bytes of markers and EXIF (low entropy), then entropy-coded data. */
export function jpegLike(bytes: number): Buffer {
  const header = Buffer.alloc(600, 0);
  header.write('\xff\xd8\xff\xe1Exif\0\0MM', 'latin1');
  return Buffer.concat([header, randomBytes(Math.max(0, bytes - header.length))]);
}

/** A ZIP-like file: a local header, then deflated prose. */
export function zipLike(rand: () => number, bytes: number): Buffer {
  const body = deflateSync(prose(rand, bytes * 4), { level: 9 });
  return Buffer.concat([Buffer.from('PK\x03\x04\x14\0\0\0\x08\0', 'latin1'), body]).subarray(0, bytes);
}
