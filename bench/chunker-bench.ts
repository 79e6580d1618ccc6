/**
 * The chunker alone on the main thread: MB/s over random bytes fed in 1 MiB blocks (as a backup reads them).
 * `node --import tsx bench/chunker-bench.ts [MiB=256] [runs=5]`; chunks go back to the free list at once.
 */
import { randomFillSync } from 'node:crypto';
import { Chunker } from '../server/engine/backup/chunker';
import { chunkBuffers } from '../server/engine/repository/chunk-buffers';

const MiB = 1024 * 1024;
const size = Number(process.argv[2] ?? 256) * MiB;
const runs = Number(process.argv[3] ?? 5);
const data = Buffer.allocUnsafe(size);
for (let i = 0; i < size; i += 64 * 1024) randomFillSync(data, i, Math.min(64 * 1024, size - i));

const rates: number[] = [];
for (let r = 0; r < runs; r++) {
  const c = new Chunker({ mode: 'cdc', avgSize: MiB });
  let chunks = 0;
  const emit = (b: Buffer) => {
    chunks++;
    chunkBuffers.give(b.buffer);
  };
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < size; i += MiB) c.push(data.subarray(i, i + MiB), emit);
  c.flush(emit);
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(c0);
  const cpuS = (cpu.user + cpu.system) / 1e6;
  // The machine is shared: CPU time is the steadier figure (wall time counts other processes' turns).
  rates.push(size / MiB / cpuS);
  console.log(`run ${r + 1}: ${(size / MiB / cpuS).toFixed(0)} MiB/s of CPU time (${(size / MiB / s).toFixed(0)} MiB/s wall), ${chunks} chunks`);
}
rates.sort((a, b) => a - b);
console.log(`median (CPU time) ${rates[Math.floor(runs / 2)]!.toFixed(0)} MiB/s (min ${rates[0]!.toFixed(0)}, max ${rates[runs - 1]!.toFixed(0)})`);
