/**
 * The tests' seeded Rng (AES-CTR keystream), with the keystream drawn in large blocks: chatJson asks for a
 * few bytes at a time, millions of times, and a cipher call per draw would make data generation the slowest
 * part of the benchmark. Same seed → same bytes, on every machine.
 */
import { Rng } from '../tests/support/tree';

const BLOCK = 64 * 1024;

export class BlockRng extends Rng {
  private block: Buffer = Buffer.alloc(0);
  private pos = 0;

  override bytes(n: number): Buffer {
    if (n >= BLOCK) return super.bytes(n);
    if (this.pos + n > this.block.length) this.refill();
    const out = this.block.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  override next(): number {
    if (this.pos + 4 > this.block.length) this.refill();
    const v = this.block.readUInt32LE(this.pos);
    this.pos += 4;
    return v / 4294967296;
  }

  /** A size drawn log-uniformly between min and max: many small ones, a few large ones, like real trees. */
  logSize(min: number, max: number): number {
    return Math.round(Math.exp(Math.log(min) + this.next() * (Math.log(max) - Math.log(min))));
  }

  private refill(): void {
    // The old block is replaced, never overwritten: buffers handed out earlier stay valid.
    this.block = super.bytes(BLOCK);
    this.pos = 0;
  }
}
