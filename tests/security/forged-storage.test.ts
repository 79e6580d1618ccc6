/**
 * Storage is untrusted: someone with write access to a bucket and no key must not be able to plant data.
 * The catalog is lost, an attacker has written to storage, and recover-catalog rebuilds from it — in an
 * encrypted repository and in one configured without encryption.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { sql } from 'drizzle-orm';
import { afterAll, describe, expect, it } from 'vitest';
import { encodeObject } from '../../server/engine/repository/codec';
import type { RecoverReport } from '../../server/engine/maintenance/recover-catalog';
import type { BackupMetadata, VerifyResult } from '../../server/engine/types';
import { runCli } from '../support/cli';
import { treeDiff } from '../support/compare';
import { makeEnv, type TestEnv } from '../support/engine-env';
import { makeTree } from '../support/tree';

const MODE = process.env.TEST_DATABASE_URL ? 'postgres' : 'embedded';
const LOCS = ['local-a', 'local-b'];

/** What an attacker without the key can write: a valid object (checksum and all), without encryption. */
function plainObject(data: Buffer, label: string): Buffer {
  return encodeObject(data, { label, keyId: '', key: null, cipher: 'none', compression: 'none', level: 3 }).stored;
}

async function plant(root: string, key: string, bytes: Buffer, locations = LOCS): Promise<void> {
  for (const loc of locations) {
    const file = path.join(root, loc, key);
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, bytes);
  }
}

describe.each([
  ['encrypted', true],
  ['unencrypted', false],
] as const)('forged storage (%s repository)', (_name, encrypted) => {
  const envs: TestEnv[] = [];
  afterAll(async () => Promise.all(envs.map((e) => e.cleanup())));

  async function setUp() {
    const settings = { enable_encryption: encrypted };
    const a = await makeEnv(MODE, settings);
    envs.push(a);
    const srcA = path.join(a.dir, 'src-a');
    const srcB = path.join(a.dir, 'src-b');
    await makeTree(srcA, { seed: 1, smallFiles: 30, bigFiles: [600_000] });
    await makeTree(srcB, { seed: 2, smallFiles: 30, bigFiles: [600_000] });
    const engine = await a.open();
    const one = await engine.createBackup({ paths: [srcA] });
    const two = await engine.createBackup({ paths: [srcB] });
    const manifests = async (id: string) =>
      ((await engine.catalog.db.execute<{ m: { files: string[]; chunks: string[] } }>(sql`SELECT manifest_shards AS m FROM backups WHERE id = ${id}`)).rows[0]!.m);
    const dataShards = (await engine.getShardMap(one.backup_id)).filter((s) => s.kind === 'data');
    const info = { one, two, m1: await manifests(one.backup_id), m2: await manifests(two.backup_id), dataShards, srcA, srcB };
    await engine.close();
    // The catalog is lost: a new installation over the same storage, with the same master key.
    const locations = LOCS.map((name) => ({ name, type: 'local', path: path.join(a.config.storage_root, name) }));
    const b = await makeEnv(MODE, { ...settings, storage_locations: locations }, { PLEXICHAT_ENCRYPTION_KEY: a.env.PLEXICHAT_ENCRYPTION_KEY });
    envs.push(b);
    return { a, b, root: a.config.storage_root, ...info };
  }

  it('a snapshot mixing two backups\' manifests is refused, named, and never restored', async () => {
    const s = await setUp();
    const forged = `backup_${Date.now()}_f0f0f0`;
    const doc = {
      backup_id: forged,
      key_id: 'dk-0000000000000000',
      security_level: 'standard',
      files_shards: s.m1.files, // the files of the first backup…
      chunks_shards: s.m2.chunks, // …over the chunk table of the second
      metadata: { backup_type: 'full', tags: ['forged'], original_size: s.one.original_size, file_count: s.one.file_count },
    };
    await plant(s.root, `snapshots/${forged}`, plainObject(Buffer.from(JSON.stringify(doc)), `snapshot:${forged}`));
    // One that imitates the MAC of authenticated snapshots, without the key to compute it.
    const mimic = `backup_${Date.now()}_f1f1f1`;
    const text = JSON.stringify({ ...doc, backup_id: mimic });
    await plant(s.root, `snapshots/${mimic}`, plainObject(Buffer.from(`${text.slice(0, -1)},"auth":"${randomBytes(32).toString('hex')}"}`), `snapshot:${mimic}`));

    const rec = await runCli(['recover-catalog', '--json'], s.b.env);
    expect(rec.code, rec.stderr).toBe(3);
    const r = rec.json as RecoverReport;
    expect(r.backups).toBe(2);
    expect(r.skipped_backups.map((x) => x.backup_id).sort()).toEqual([forged, mimic].sort());
    expect(r.damaged_objects.filter((d) => d.includes(`snapshots/${forged}`))).toHaveLength(2);
    const list = (await runCli(['list', '--json'], s.b.env)).json as BackupMetadata[];
    expect(list.map((x) => x.backup_id).sort()).toEqual([s.one.backup_id, s.two.backup_id].sort());
    const restore = await runCli(['restore', forged, '--target', path.join(s.b.dir, 'r-forged')], s.b.env);
    expect(restore.code).toBe(4);
    // The genuine backups are intact.
    const target = path.join(s.b.dir, 'r-one');
    expect((await runCli(['restore', s.one.backup_id, '--target', target], s.b.env)).code).toBe(0);
    expect(await treeDiff(s.srcA, target)).toEqual([]);
  });

  it('an object planted under an existing content id is refused, named, and never deduplicated onto', async () => {
    const s = await setUp();
    const victim = s.dataShards[0]!.shard_id;
    const cid = victim.slice(0, victim.lastIndexOf('-'));
    const planted = `${cid}-${'ab'.repeat(6)}`;
    const junk = plainObject(randomBytes(4096), cid);
    // Beside the genuine shard, on every location; and over the genuine shard's own copy on one location.
    await plant(s.root, `data/${planted.slice(0, 2)}/${planted}`, junk);
    const where = s.dataShards[0]!.replicas.map((x) => x.location);
    await plant(s.root, `data/${victim.slice(0, 2)}/${victim}`, junk, [where[1]!]);

    const rec = await runCli(['recover-catalog', '--read-data', '--json'], s.b.env);
    expect(rec.code, rec.stderr).toBe(3);
    const r = rec.json as RecoverReport;
    expect(r.unreferenced_objects).toEqual(expect.arrayContaining(LOCS.map((l) => `${l}:data/${planted.slice(0, 2)}/${planted}`)));
    expect(r.damaged_objects.some((d) => d.startsWith(`${where[1]}:data/${victim.slice(0, 2)}/${victim} (`))).toBe(true);
    expect(r.damaged_backups).toEqual([expect.objectContaining({ backup_id: s.one.backup_id, status: 'degraded' })]);

    const eng = await s.b.open();
    const rows = await eng.catalog.db.execute<{ id: string }>(sql`SELECT id FROM shards WHERE content_id = ${cid}`);
    expect(rows.rows.map((x) => x.id)).toEqual([victim]);
    // A new backup of the same data deduplicates onto the genuine shard only, and restores byte for byte.
    const again = await eng.createBackup({ paths: [s.srcA] });
    const refs = (await eng.getShardMap(again.backup_id)).map((x) => x.shard_id);
    expect(refs).not.toContain(planted);
    const target = path.join(s.b.dir, 'r-again');
    await eng.restoreBackup(again.backup_id, { target });
    expect(await treeDiff(s.srcA, target)).toEqual([]);
    expect((await eng.verifyBackup(again.backup_id, { readData: true })).status).not.toBe('corrupted');
    // The damaged copy is named by verify, and restore falls over to the good one.
    const v = (await runCli(['verify', s.one.backup_id, '--read-data', '--json'], s.b.env)).json as VerifyResult;
    expect(v.status).toBe('degraded');
    expect(v.bad_shards.map((x) => x.shard_id)).toContain(victim);
    expect(await readFile(path.join(s.root, where[0]!, 'data', victim.slice(0, 2), victim))).not.toEqual(junk);
  });
});
