/**
 * The audit trail of key use: every operation that opens a backup's data with its data key writes a
 * `key.use` row naming who, which key and what for (real catalog, real backups).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { desc, eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditEvents } from '../../db/schema';
import type { BackupEngine } from '../../server/engine/engine';
import type { BackupMetadata } from '../../server/engine/types';
import { makeEnv, type TestEnv } from '../support/engine-env';

let t: TestEnv;
let engine: BackupEngine;
let src: string;
let full: BackupMetadata;
let keyId: string;

async function keyUses(): Promise<{ actor: string; target: string | null; details: Record<string, unknown> }[]> {
  return engine.catalog.db.select({ actor: auditEvents.actor, target: auditEvents.target, details: auditEvents.details }).from(auditEvents).where(eq(auditEvents.action, 'key.use')).orderBy(desc(auditEvents.id));
}

/** The key.use rows an operation wrote. */
async function usesOf(op: () => Promise<unknown>) {
  const before = (await keyUses()).length;
  await op();
  const all = await keyUses();
  return all.slice(0, all.length - before);
}

beforeAll(async () => {
  t = await makeEnv('embedded');
  engine = await t.open();
  src = path.join(t.dir, 'src');
  await mkdir(src);
  await writeFile(path.join(src, 'a.txt'), 'alpha '.repeat(1000));
  await writeFile(path.join(src, 'b.txt'), 'beta '.repeat(1000));
  full = await engine.createBackup({ paths: [src], actor: 'alice@example.com' });
  keyId = (await engine.catalog.db.execute<{ key_id: string }>(sql`SELECT key_id FROM backups WHERE id = ${full.backup_id}`)).rows[0]!.key_id;
}, 120_000);
afterAll(async () => t?.cleanup());

describe('key use is audited', () => {
  it('backup creation: the new key, by whoever asked', async () => {
    const rows = (await keyUses()).filter((r) => r.details.backup_id === full.backup_id && r.details.purpose === 'backup');
    expect(rows).toEqual([{ actor: 'alice@example.com', target: keyId, details: expect.objectContaining({ purpose: 'backup', security_level: full.security_level }) }]);
  });

  it('an incremental backup: its own key and the key of the base it reads', async () => {
    await writeFile(path.join(src, 'c.txt'), 'gamma');
    let inc: BackupMetadata | undefined;
    const rows = await usesOf(async () => (inc = await engine.createBackup({ paths: [src], backupType: 'incremental', actor: 'cli:bob' })));
    expect(rows.map((r) => [r.actor, r.details.purpose, r.details.backup_id]).sort()).toEqual(
      [
        ['cli:bob', 'backup', inc!.backup_id],
        ['cli:bob', 'backup-base', full.backup_id],
      ].sort(),
    );
    expect(rows.find((r) => r.details.purpose === 'backup-base')).toMatchObject({ target: keyId, details: { for_backup: inc!.backup_id } });
  });

  const ops: [string, () => Promise<unknown>][] = [
    ['verify', () => engine.verifyBackup(full.backup_id, { readData: true, actor: 'op@example.com' })],
    ['repair', () => engine.repairBackup(full.backup_id, { actor: 'op@example.com' })],
    ['browse', () => engine.listBackupFiles(full.backup_id, { actor: 'op@example.com' })],
    ['download', async () => {
      const f = await engine.readBackupFile(full.backup_id, 'a.txt', { actor: 'op@example.com' });
      for await (const chunk of f.bytes) void chunk;
    }],
    ['restore', () => engine.restoreBackup(full.backup_id, { target: path.join(t.dir, 'restored'), actor: 'op@example.com' })],
    ['drill', () => engine.runDrill({ backupId: full.backup_id, actor: 'op@example.com' })],
  ];
  it.each(ops)('%s writes a key.use row with who, which key and the backup', async (purpose, op) => {
    const rows = await usesOf(op);
    expect(rows).toEqual([{ actor: 'op@example.com', target: keyId, details: expect.objectContaining({ purpose, backup_id: full.backup_id }) }]);
  }, 120_000);

  it('verify records whether data was read; browsing pages is one row per viewer and backup for a while', async () => {
    const [v] = await usesOf(() => engine.verifyBackup(full.backup_id, { actor: 'x@example.com' }));
    expect(v?.details).toMatchObject({ purpose: 'verify', read_data: false });
    const pages = await usesOf(async () => {
      await engine.listBackupFiles(full.backup_id, { actor: 'y@example.com', offset: 0, limit: 1 });
      await engine.listBackupFiles(full.backup_id, { actor: 'y@example.com', offset: 1, limit: 1 });
    });
    expect(pages).toHaveLength(1);
  });
});
