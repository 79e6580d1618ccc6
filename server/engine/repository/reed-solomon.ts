/**
 * Reed-Solomon erasure coding over GF(2^8), from the Rust `reed-solomon-erasure` crate built to WebAssembly
 * (@digitaldefiance/reed-solomon-erasure.wasm; the choice against @ronomon/reed-solomon is in
 * docs/repository-format.md, "Erasure-coded objects").
 *
 * The package's allocator (wee_alloc) corrupts its own heap on the second `reconstruct` of an instance
 * ("memory access out of bounds"), while repeated `encode`s are fine. So encoding reuses one instance and
 * every reconstruction gets a fresh one from the compiled module (≈ a few ms, only on the degraded path).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ReedSolomonErasure } from '@digitaldefiance/reed-solomon-erasure.wasm';
import { APP_ROOT } from '../../../db/paths';

// The comment stops Next's bundler from rewriting a path that must be resolved at run time.
const WASM = path.join(/* turbopackIgnore: true */ APP_ROOT, 'node_modules', '@digitaldefiance', 'reed-solomon-erasure.wasm', 'dist', 'reed_solomon_erasure_bg.wasm');

let wasmBytes: Buffer | null = null;
let encoder: ReedSolomonErasure | null = null;

function instance(): ReedSolomonErasure {
  wasmBytes ??= readFileSync(WASM);
  return ReedSolomonErasure.fromBytes(wasmBytes);
}

function check(code: number, what: string): void {
  if (code !== ReedSolomonErasure.RESULT_OK) throw new Error(`Reed-Solomon ${what} failed: ${ReedSolomonErasure.getResultMessage(code)}`);
}

/**
 * Fills the last m pieces of `pieces` (k + m pieces of equal size, back to back) with parity. An instance
 * whose heap went bad is dropped and the call made once more on a fresh one.
 */
export function encodeParity(pieces: Uint8Array, k: number, m: number): void {
  try {
    encoder ??= instance();
    check(encoder.encode(pieces, k, m), 'encoding');
  } catch (err) {
    encoder = null;
    if (!(err instanceof WebAssembly.RuntimeError)) throw err;
    encoder = instance();
    check(encoder.encode(pieces, k, m), 'encoding');
  }
}

/** Rebuilds the k data pieces in place from any k present pieces (`present[i]` says piece i holds good bytes). */
export function reconstructData(pieces: Uint8Array, k: number, m: number, present: boolean[]): void {
  check(instance().reconstruct(pieces, k, m, present), 'reconstruction');
}
