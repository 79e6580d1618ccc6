/**
 * Master-key rotation. The master key wraps every data key (directly for BASIC/STANDARD, through the
 * PBKDF2/Argon2id KEKs for HIGH/MAXIMUM), the repository's id key, and the secrets the console stores
 * (location credentials, alert channel secrets). Rotating re-wraps all of them under the new key; the data
 * itself is never re-encrypted (each backup keeps its own data key), so a rotation costs seconds, not a
 * re-upload. GOVERNMENT keys stay with the HSM.
 *
 * Safety: the replaced key stays configured ("previous") and keeps opening what it wrapped until a rotation
 * run finds nothing left under it — catalog rows, `keys/` objects and `config.json` on every enabled
 * location, sealed secrets — with no backup running. Only then may the previous key be dropped. The run
 * first records the new key's fingerprint in the catalog (`settings` key `keys`); a process still holding
 * the old key sees that before it wraps a new data key (assertCurrentMaster) and reloads or refuses.
 */
import { eq, sql } from 'drizzle-orm';
import { dataKeys, settings } from '../../../db/schema';
import type { EngineContext } from '../context';
import { EngineError } from '../errors';
import type { WrappedKey } from './keys';
import { keyFingerprint, loadMasterKey, loadPreviousMasterKeys, openSecretAny, sealSecret } from './keys';
import { resealLocationSecrets } from '../storage/location-store';
import { CONFIG_KEY, keyKey, type RepoConfig } from '../repository/repository';
import { wrappedFromRow } from '../setup';

export const KEYS_SETTING = 'keys';

export interface KeysSetting {
  /** Fingerprint of the master key new data keys must be wrapped by. */
  master_key: string;
  /** When a rotation to it last finished (null while one is under way). */
  rotated_at: string | null;
  rotation_started_at?: string;
}

export interface RotationReport {
  master_key: string;
  previous_keys: string[];
  /** `failed`: keys that could not be re-wrapped (a HIGH/MAXIMUM key without the second factor), each with why. */
  data_keys: { rewrapped: number; already_current: number; hsm: number; failed: string[] };
  key_objects: { rewritten: number; failed: string[] };
  repository_config: { rewritten: number; failed: string[] };
  secrets_resealed: number;
  running_backups: string[];
  /** Nothing is left under a previous key and no backup runs: the previous keys may be dropped now. */
  complete: boolean;
}

export async function readKeysSetting(ctx: Pick<EngineContext, 'db'>): Promise<KeysSetting | null> {
  const [row] = await ctx.db.select().from(settings).where(eq(settings.key, KEYS_SETTING));
  return row ? (row.value as unknown as KeysSetting) : null;
}

async function writeKeysSetting(ctx: EngineContext, value: KeysSetting): Promise<void> {
  const v = value as unknown as Record<string, unknown>;
  await ctx.db.insert(settings).values({ key: KEYS_SETTING, value: v }).onConflictDoUpdate({ target: settings.key, set: { value: v, updatedAt: new Date() } });
}

export async function rotateKeys(ctx: EngineContext): Promise<RotationReport> {
  const keys = ctx.keys;
  const report: RotationReport = {
    master_key: keys.masterId,
    previous_keys: keys.previousIds,
    data_keys: { rewrapped: 0, already_current: 0, hsm: 0, failed: [] },
    key_objects: { rewritten: 0, failed: [] },
    repository_config: { rewritten: 0, failed: [] },
    secrets_resealed: 0,
    running_backups: [],
    complete: false,
  };
  // 1. From now on, no process wraps a new data key under another master key.
  const started = await readKeysSetting(ctx);
  await writeKeysSetting(ctx, { master_key: keys.masterId, rotated_at: null, rotation_started_at: started?.rotation_started_at ?? ctx.now().toISOString() });

  // 2. The repository's id key, in the catalog and in every location's config.json.
  const [repoRow] = await ctx.db.select().from(settings).where(eq(settings.key, 'repository'));
  if (!repoRow) throw new EngineError('CONFLICT', 'The catalog has no repository identity yet; open the installation once, then rotate.');
  const repo = repoRow.value as unknown as RepoConfig;
  const idKey = await keys.rewrap(repo.id_key);
  const nextRepo: RepoConfig = { ...repo, id_key: idKey };
  if (idKey !== repo.id_key) await ctx.db.update(settings).set({ value: nextRepo as unknown as Record<string, unknown> }).where(eq(settings.key, 'repository'));
  const body = Buffer.from(JSON.stringify(nextRepo, null, 2));
  for (const loc of ctx.locations.enabled()) {
    try {
      const doc = JSON.parse((await loc.backend.get(CONFIG_KEY)).toString('utf8')) as RepoConfig;
      if (doc.repo_id !== repo.repo_id) continue; // not ours: never touched
      if (doc.id_key.kekId === idKey.kekId) continue;
      await loc.backend.put(CONFIG_KEY, body);
      report.repository_config.rewritten++;
    } catch (err) {
      report.repository_config.failed.push(`${loc.name}: ${(err as Error).message}`);
    }
  }

  // 3. Every data key: the catalog row, then its keys/ object wherever one exists.
  const rows = await ctx.db.select().from(dataKeys);
  for (const row of rows) {
    const w = wrappedFromRow(row);
    let next: WrappedKey = w;
    if (w.securityLevel === 'government') report.data_keys.hsm++;
    else if (keys.isCurrent(w)) report.data_keys.already_current++;
    else {
      try {
        next = await keys.rewrap(w); // also upgrades HIGH/MAXIMUM wrapping v1 to v2 when the second factor is configured
      } catch (err) {
        report.data_keys.failed.push(`${w.id} (${w.securityLevel}): ${(err as Error).message}`);
        continue;
      }
      // Only if nobody changed the row meanwhile (another rotation run): then it is theirs to finish.
      await ctx.db.update(dataKeys).set({ wrappedKey: next.wrapped, kekId: next.kekId }).where(sql`${dataKeys.id} = ${w.id} AND ${dataKeys.kekId} = ${w.kekId}`);
      report.data_keys.rewrapped++;
    }
    if (w.securityLevel === 'id') continue; // the id key lives in config.json, handled above
    await rewriteKeyObject(ctx, next, report);
  }

  // 4. Secrets the console sealed: storage location credentials, and settings rows holding a `sealed` value.
  const masters = keys.allMasters;
  report.secrets_resealed += await resealLocationSecrets(ctx.db, masters);
  report.secrets_resealed += await resealSettings(ctx, masters);

  // 5. Done only when nothing is left under a previous key and no backup could still be using one.
  const running = await ctx.db.execute<{ id: string }>(sql`SELECT id FROM backups WHERE status = 'running' ORDER BY id`);
  report.running_backups = running.rows.map((r) => r.id);
  const left = await ctx.db.execute<{ n: number }>(sql`SELECT count(*)::int AS n FROM data_keys WHERE security_level <> 'government' AND kek_id <> ${keys.masterId}`);
  report.complete = !left.rows[0]?.n && !report.data_keys.failed.length && !report.key_objects.failed.length && !report.repository_config.failed.length && !report.running_backups.length;
  if (report.complete) await writeKeysSetting(ctx, { master_key: keys.masterId, rotated_at: ctx.now().toISOString() });
  return report;
}

/** Rewrites a data key's `keys/` object on every enabled location holding one wrapped otherwise. */
async function rewriteKeyObject(ctx: EngineContext, w: WrappedKey, report: RotationReport): Promise<void> {
  const doc = Buffer.from(JSON.stringify({ id: w.id, securityLevel: w.securityLevel, algorithm: w.algorithm, wrapped: w.wrapped, kekId: w.kekId }));
  for (const loc of ctx.locations.enabled()) {
    try {
      let stored: WrappedKey;
      try {
        stored = JSON.parse((await loc.backend.get(keyKey(w.id))).toString('utf8')) as WrappedKey;
      } catch (err) {
        if ((err as { kind?: string }).kind === 'not_found') continue;
        throw err;
      }
      if (stored.kekId === w.kekId && stored.wrapped === w.wrapped) continue;
      await loc.backend.put(keyKey(w.id), doc);
      report.key_objects.rewritten++;
    } catch (err) {
      report.key_objects.failed.push(`${loc.name}:${keyKey(w.id)}: ${(err as Error).message}`);
    }
  }
}

/** Settings rows the console sealed (`{ sealed, … }`, sealed with context "settings:<key>"), re-sealed under the current key. */
async function resealSettings(ctx: EngineContext, masters: Buffer[]): Promise<number> {
  const rows = await ctx.db.select().from(settings);
  let n = 0;
  for (const r of rows) {
    const v = r.value as { sealed?: unknown };
    if (typeof v.sealed !== 'string' || !v.sealed) continue;
    const context = `settings:${r.key}`;
    const sealed = sealSecret(masters[0]!, openSecretAny(masters, v.sealed, context), context);
    if (sealed === v.sealed) continue;
    await ctx.db.update(settings).set({ value: { ...r.value, sealed } }).where(eq(settings.key, r.key));
    n++;
  }
  return n;
}

/**
 * Before a new data key is wrapped: if another process rotated the master key, take the new key from a
 * generated key file (it is already there), or refuse with what to set (a key from the environment).
 */
export async function assertCurrentMaster(ctx: EngineContext): Promise<void> {
  const expected = await syncMasterKeys(ctx);
  if (expected) throw rotatedElsewhere(expected, ctx.keys.masterId);
}

/**
 * Catches up with a rotation made by another process: a generated key file already holds the new key, so
 * this process takes it (keeping the keys it has for unwrapping). Returns the expected fingerprint when this
 * process still cannot follow (a key from the environment), else null.
 */
export async function syncMasterKeys(ctx: EngineContext): Promise<string | null> {
  const s = await readKeysSetting(ctx);
  if (!s || s.master_key === ctx.keys.masterId) return null;
  const source = ctx.config.master_key_source;
  const current = loadMasterKey(source, ctx.log);
  if (keyFingerprint(current) !== s.master_key) return s.master_key;
  ctx.keys.adopt(current, loadPreviousMasterKeys(source));
  ctx.log(`the master key was rotated to ${s.master_key} by another process; this process uses it from now on`);
  return null;
}

export const rotatedElsewhere = (now: string, mine: string) =>
  new EngineError(
    'CONFLICT',
    `The master key was rotated to ${now}, but this process still uses ${mine}: set PLEXICHAT_ENCRYPTION_KEY to the new key (and the replaced one in PLEXICHAT_PREVIOUS_ENCRYPTION_KEYS until the rotation has finished), then restart it.`,
  );

export interface KeyStatus {
  master_key: string;
  previous_keys: string[];
  source: string;
  last_rotation: string | null;
  key_age_days: number | null;
  key_rotation_days: number;
  rotation_due: boolean;
  rotation_unfinished: boolean;
  data_keys_by_master: Record<string, number>;
}

/** The master key in force, its age against key_rotation_days, and how many data keys each master key wraps. */
export async function keyStatus(ctx: EngineContext): Promise<KeyStatus> {
  const byKek = await ctx.db.execute<{ kek_id: string; n: number }>(sql`SELECT kek_id, count(*)::int AS n FROM data_keys GROUP BY kek_id ORDER BY kek_id`);
  const setting = await readKeysSetting(ctx);
  const [repo] = (await ctx.db.execute<{ created_at: string }>(sql`SELECT value->>'created_at' AS created_at FROM settings WHERE key = 'repository'`)).rows;
  const since = setting?.rotated_at ?? repo?.created_at ?? null;
  const ageDays = since ? (ctx.now().getTime() - Date.parse(since)) / 86_400_000 : null;
  const source = ctx.config.master_key_source;
  return {
    master_key: ctx.keys.masterId,
    previous_keys: ctx.keys.previousIds,
    source: source.kind === 'file' ? `file ${source.path}` : 'PLEXICHAT_ENCRYPTION_KEY',
    last_rotation: setting?.rotated_at ?? null,
    key_age_days: ageDays === null ? null : Math.floor(ageDays),
    key_rotation_days: ctx.config.key_rotation_days,
    rotation_due: ageDays !== null && ageDays > ctx.config.key_rotation_days,
    rotation_unfinished: Boolean(setting && setting.rotated_at === null) || ctx.keys.previousIds.length > 0,
    data_keys_by_master: Object.fromEntries(byKek.rows.map((r) => [r.kek_id, r.n])),
  };
}
