/**
 * Assembles a one-function WebAssembly module from its instructions, for the backup's two byte loops
 * (gear-scan.ts, entropy.ts): no file to ship, bundle or load. The module has a fixed memory of `pages`
 * (exported as `mem`), one function `run` of `params` i32 parameters, and, with `result`, an i32 result and a
 * mutable i32 global `last` (index 0) the function may set.
 */

/** The opcodes those loops use (WebAssembly 1.0). */
export const op = {
  get: 0x20,
  set: 0x21,
  tee: 0x22,
  setGlobal: 0x24,
  load: 0x28,
  load8u: 0x2d,
  store: 0x36,
  i32const: 0x41,
  eqz: 0x45,
  ltU: 0x49,
  add: 0x6a,
  and: 0x71,
  shl: 0x74,
  ifVoid: [0x04, 0x40],
  loopVoid: [0x03, 0x40],
  brIf: 0x0d,
  ret: 0x0f,
  end: 0x0b,
} as const;

/** Unsigned LEB128, as offsets and sizes are written. */
export function leb(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n) byte |= 0x80;
    out.push(byte);
  } while (n);
  return out;
}

export interface AssembledLoop {
  run: (...args: number[]) => number;
  memory: WebAssembly.Memory;
  last: WebAssembly.Global | null;
}

/**
 * `make` run once, on the first call (a thread that never runs the loop never builds it), its result kept:
 * null where WebAssembly is missing, and the caller keeps its JavaScript loop.
 */
export function lazyLoop<T>(make: () => T | null): () => T | null {
  let built: T | null | undefined;
  return () => (built === undefined ? (built = make()) : built);
}

/** Which loop a lazyLoop's caller runs. */
export const loopEngine = (loop: () => unknown): 'webassembly' | 'javascript' => (loop() ? 'webassembly' : 'javascript');

/** Null where the runtime cannot compile WebAssembly (--jitless): the caller keeps its JavaScript loop. */
export function assemble(spec: { params: number; locals: number; result: boolean; pages: number; body: number[] }): AssembledLoop | null {
  if (typeof WebAssembly !== 'object') return null;
  const name = (s: string) => [s.length, ...Buffer.from(s)];
  const section = (id: number, body: number[]) => [id, ...leb(body.length), ...body];
  const i32 = 0x7f;
  const code = [...(spec.locals ? [1, spec.locals, i32] : [0]), ...spec.body];
  const exportsBody = [spec.result ? 3 : 2, ...name('mem'), 2, 0, ...name('run'), 0, 0, ...(spec.result ? [...name('last'), 3, 0] : [])];
  const bytes = new Uint8Array([
    ...[0x00, 0x61, 0x73, 0x6d, 1, 0, 0, 0],
    ...section(1, [1, 0x60, spec.params, ...Array<number>(spec.params).fill(i32), ...(spec.result ? [1, i32] : [0])]),
    ...section(3, [1, 0]),
    ...section(5, [1, 1, ...leb(spec.pages), ...leb(spec.pages)]),
    ...(spec.result ? section(6, [1, i32, 1, op.i32const, 0, op.end]) : []),
    ...section(7, exportsBody),
    ...section(10, [1, ...leb(code.length), ...code]),
  ]);
  try {
    const e = new WebAssembly.Instance(new WebAssembly.Module(bytes)).exports as { mem: WebAssembly.Memory; run: AssembledLoop['run']; last?: WebAssembly.Global };
    return { run: e.run, memory: e.mem, last: e.last ?? null };
  } catch {
    return null;
  }
}
