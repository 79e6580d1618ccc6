/**
 * Fuzzing the chunk-table parser (chunk-table.ts) with seeded mutations of valid tables: byte flips, cuts,
 * splices of JSON punctuation and header-like edits. Each table either parses to a list of well-formed shard
 * ids or fails with an INTEGRITY EngineError — never another exception or a hang.
 * FUZZ_ITERATIONS raises the count.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { parseChunkTableLine, readChunkTable, SHARD_ID } from '../../server/engine/repository/chunk-table';
import { EngineError } from '../../server/engine/errors';
import { Rng } from '../support/tree';

const ITERATIONS = Number(process.env.FUZZ_ITERATIONS ?? 20_000);
const TOKENS = ['[', ']', ',', '"', '\\', '{}', 'null', '1e999', '-', '\u0000', '"../../etc"', '"a"', '\ud800', '[[]]'];

function validLine(rng: Rng, n: number): string {
  return JSON.stringify(Array.from({ length: n }, () => `${rng.bytes(32).toString('hex')}-${rng.bytes(6).toString('hex')}`));
}

function mutate(rng: Rng, line: string): string {
  const at = rng.int(0, line.length);
  switch (rng.int(0, 4)) {
    case 0: {
      const chars = [...line];
      if (!chars.length) return line;
      const i = rng.int(0, Math.max(0, chars.length - 1));
      chars[i] = String.fromCharCode(chars[i]!.charCodeAt(0) ^ (1 << rng.int(0, 7)));
      return chars.join('');
    }
    case 1:
      return line.slice(0, at);
    case 2:
      return line.slice(0, at) + TOKENS[rng.int(0, TOKENS.length - 1)]! + line.slice(at);
    case 3:
      return line.slice(0, at) + line.slice(at + rng.int(1, 70));
    default:
      return line + rng.bytes(rng.int(1, 40)).toString('latin1');
  }
}

describe('fuzz: the chunk table meets hostile bytes', () => {
  it(`${ITERATIONS} seeded mutations parse to shard ids or fail with an integrity error`, () => {
    const rng = new Rng(99);
    let refused = 0;
    for (let i = 0; i < ITERATIONS; i++) {
      let line = validLine(rng, rng.int(0, 6));
      for (let k = rng.int(1, 3); k > 0; k--) line = mutate(rng, line);
      try {
        const ids = parseChunkTableLine(line, 1);
        expect(Array.isArray(ids)).toBe(true);
        for (const id of ids) expect(id).toMatch(SHARD_ID);
      } catch (err) {
        if (!(err instanceof EngineError) || err.code !== 'INTEGRITY') throw new Error(`iteration ${i}: ${JSON.stringify(line).slice(0, 200)} → ${(err as Error).name}: ${(err as Error).message}`);
        refused++;
      }
    }
    expect(refused).toBeGreaterThan(ITERATIONS / 2);
  });

  it('reads a valid multi-line table in order, and refuses one line that is not a list of ids', async () => {
    const rng = new Rng(5);
    const lines = [validLine(rng, 1000), validLine(rng, 10)];
    async function* gen(ls: string[]) {
      yield* ls;
    }
    const ids = await readChunkTable(gen(lines));
    expect(ids).toHaveLength(1010);
    expect(ids[0]).toBe((JSON.parse(lines[0]!) as string[])[0]);
    for (const bad of ['{"a":1}', '["../../x"]', `["${randomBytes(32).toString('hex')}"]`, '[1,2]', 'not json']) {
      await expect(readChunkTable(gen([lines[0]!, bad]))).rejects.toThrow(/chunk table is damaged \(line 2/);
    }
  });
});
