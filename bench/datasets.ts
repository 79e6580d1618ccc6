/**
 * Generates the datasets under <work dir>/data once, and reuses them while their marker file says they were
 * made by this generator version at this scale. Markers and hash lists sit next to the trees, never inside.
 */
import { existsSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { writeIncompressible, writeJson, writeShifted, writeSmallTree } from './generate';
import { type BenchSettings, DATASET_BYTES, INCOMPRESSIBLE_MIX, JSON_MIX, SMALL_TREE } from './settings';
import type { Sums, TreeWriter } from './tree-writer';

/** Bump when the generator changes, so stale datasets are regenerated. */
const GENERATOR_VERSION = 1;

export interface Dataset {
  name: string;
  dir: string;
  files: number;
  bytes: number;
  /** SHA-256 and size of every file, for checking restores (only for the datasets that are restored). */
  sumsFile: string | null;
  /** Seconds spent generating it in this run; null when an earlier run's copy was reused. */
  generatedSeconds: number | null;
  extra: Record<string, number>;
  /** A real tree's original directory (BENCH_TREES); `dir` is the copy that is measured. */
  source?: string;
}

export interface Datasets {
  incompressible: Dataset;
  json: Dataset;
  shifted: Dataset;
  small: Dataset;
}

interface Marker {
  version: number;
  scale: number;
  files: number;
  bytes: number;
  extra: Record<string, number>;
}

export async function ensureDatasets(s: BenchSettings, log: (line: string) => void): Promise<Datasets> {
  const base = path.join(s.workDir, 'data');
  const total = Math.round(DATASET_BYTES * s.scale);
  const incompressible = await ensure(base, 'incompressible', s.scale, log, (dir) => writeIncompressible(dir, INCOMPRESSIBLE_MIX, total).then(done));
  const json = await ensure(base, 'json', s.scale, log, (dir) => writeJson(dir, JSON_MIX, total).then(done));
  // The shifted copy is derived from (b): regenerate it whenever (b) was.
  const shifted = await ensure(base, 'json-shifted', s.scale, log, async (dir) => {
    const rels = Object.keys(await readSums(json)).sort();
    const { writer, changed } = await writeShifted(json.dir, dir, rels);
    return { ...done(writer), extra: { changed_files: changed } };
  }, json.generatedSeconds !== null);
  const small = await ensure(base, 'small-files', s.scale, log, (dir) => writeSmallTree(dir, Math.max(1, Math.round(SMALL_TREE.files * s.scale))).then(done));
  return { incompressible, json, shifted, small };
}

export async function readSums(d: Dataset): Promise<Sums> {
  if (!d.sumsFile) throw new Error(`dataset ${d.name} has no hash list`);
  return JSON.parse(await readFile(d.sumsFile, 'utf8')) as Sums;
}

interface Generated {
  files: number;
  bytes: number;
  sums: Sums | null;
  extra?: Record<string, number>;
}

function done(w: TreeWriter): Generated {
  const sums = Object.keys(w.sums).length ? w.sums : null;
  return { files: w.files, bytes: w.bytes, sums };
}

async function ensure(
  base: string,
  name: string,
  scale: number,
  log: (line: string) => void,
  generate: (dir: string) => Promise<Generated>,
  force = false,
): Promise<Dataset> {
  const dir = path.join(base, name);
  const markerFile = path.join(base, `${name}.marker.json`);
  const sumsFile = path.join(base, `${name}.sums.json`);
  const marker = force ? null : await readMarker(markerFile);
  if (marker && marker.version === GENERATOR_VERSION && marker.scale === scale && existsSync(dir)) {
    log(`dataset ${name}: reusing ${dir} (${marker.files} files, ${(marker.bytes / 1048576).toFixed(0)} MiB)`);
    return { name, dir, files: marker.files, bytes: marker.bytes, sumsFile: existsSync(sumsFile) ? sumsFile : null, generatedSeconds: null, extra: marker.extra };
  }
  log(`dataset ${name}: generating in ${dir} …`);
  await rm(markerFile, { force: true });
  await rm(sumsFile, { force: true });
  await rm(dir, { recursive: true, force: true });
  const started = performance.now();
  const g = await generate(dir);
  if (g.sums) await writeFile(sumsFile, JSON.stringify(g.sums));
  const seconds = (performance.now() - started) / 1000;
  const m: Marker = { version: GENERATOR_VERSION, scale, files: g.files, bytes: g.bytes, extra: g.extra ?? {} };
  await writeFile(markerFile, JSON.stringify(m, null, 2));
  log(`dataset ${name}: ${g.files} files, ${(g.bytes / 1048576).toFixed(0)} MiB in ${seconds.toFixed(1)} s`);
  return { name, dir, files: g.files, bytes: g.bytes, sumsFile: g.sums ? sumsFile : null, generatedSeconds: seconds, extra: m.extra };
}

async function readMarker(file: string): Promise<Marker | null> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as Marker;
  } catch {
    return null;
  }
}
