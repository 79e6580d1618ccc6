/**
 * What a repository's objects must prove before they are believed. Storage is untrusted: whoever can write
 * to a bucket without the master key must not be able to plant data. Two facts need authenticating, both
 * with MACs under keys derived from the id key (itself wrapped by the master key, so only a key holder can
 * make them):
 *
 * - whether the repository may hold unencrypted objects (`encryption` in config.json, MAC'd with `auth`).
 *   Absent or with a bad MAC it reads as `required`; an installation configured with
 *   `enable_encryption: false` marks it `optional` when it opens the repository (once, for good);
 * - a snapshot's contents (its manifest shard ids and metadata): encrypted snapshots are authenticated by
 *   AES-GCM; unencrypted ones carry an `auth` MAC over their exact bytes. The manifest shard ids are content
 *   ids, which bind the manifest, whose chunk table binds every data shard — so a snapshot cannot mix in
 *   another backup's shards without breaking a MAC or a content id.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { eq } from 'drizzle-orm';
import { settings } from '../../../db/schema';
import { SECURITY_LEVELS } from '../../config';
import { SHARD_ID } from './chunk-table';
import { IntegrityError } from './codec';
import type { EngineContext } from '../context';
import type { RepoConfig, SnapshotDoc } from './repository';

export type RepoEncryption = 'required' | 'optional';
export type TrustedRepoConfig = RepoConfig & { encryption?: RepoEncryption; auth?: string };

const macKey = (idKey: Buffer, purpose: string) => createHmac('sha256', idKey).update(`repository-auth:${purpose}`).digest();
const mac = (key: Buffer, text: string) => createHmac('sha256', key).update(text).digest('hex');

function sameHex(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === 32 && y.length === 32 && timingSafeEqual(x, y);
}

function configMac(idKey: Buffer, repoId: string, encryption: RepoEncryption): string {
  return mac(macKey(idKey, 'config'), `${repoId}\n${encryption}`);
}

/** The repository config with its encryption rule, MAC'd. */
export function withEncryption(idKey: Buffer, repo: RepoConfig, encryption: RepoEncryption): TrustedRepoConfig {
  return { ...repo, encryption, auth: configMac(idKey, repo.repo_id, encryption) };
}

/** The rule a config states, believed only with a valid MAC; anything else means encryption is required. */
export function repoEncryption(idKey: Buffer, repo: TrustedRepoConfig): RepoEncryption {
  if (repo.encryption !== 'optional' || typeof repo.auth !== 'string') return 'required';
  return sameHex(repo.auth, configMac(idKey, repo.repo_id, 'optional')) ? 'optional' : 'required';
}

const cache = new WeakMap<EngineContext, { allowed: boolean; at: number }>();

/**
 * May this installation read unencrypted objects? Yes when its own configuration says it writes them, or
 * when the repository's authenticated config says it may hold them (a flip happens once, so a cached
 * "no" is re-read after a few seconds).
 */
export async function plaintextAllowed(ctx: EngineContext): Promise<boolean> {
  if (!ctx.config.enable_encryption) return true;
  const hit = cache.get(ctx);
  if (hit && (hit.allowed || Date.now() - hit.at < 5000)) return hit.allowed;
  const [row] = await ctx.db.select().from(settings).where(eq(settings.key, 'repository'));
  const allowed = row ? repoEncryption(ctx.idKey, row.value as unknown as TrustedRepoConfig) === 'optional' : false;
  cache.set(ctx, { allowed, at: Date.now() });
  return allowed;
}

/** The snapshot's JSON with an `auth` MAC appended over its exact bytes (checked when it is unencrypted). */
export function sealSnapshot(idKey: Buffer, doc: SnapshotDoc): Buffer {
  const text = JSON.stringify(doc);
  return Buffer.from(`${text.slice(0, -1)},"auth":"${mac(macKey(idKey, 'snapshot'), text)}"}`);
}

const AUTH_TAIL = /,"auth":"([0-9a-f]{64})"\}$/;

/**
 * Parses a snapshot's plaintext and checks it belongs where it was found. `encrypted`: it opened under a
 * data key (AES-GCM already authenticated it); otherwise its MAC must be valid — an unencrypted snapshot
 * without one is either forged or older than authenticated snapshots, and is refused.
 */
export function openSnapshot(idKey: Buffer, plain: Buffer, backupId: string, encrypted: boolean): SnapshotDoc {
  const text = plain.toString('utf8');
  const m = AUTH_TAIL.exec(text);
  if (!encrypted) {
    if (!m) throw new IntegrityError('the snapshot is not encrypted and carries no MAC (forged, or written before snapshots were authenticated); it is not imported');
    if (!sameHex(m[1]!, mac(macKey(idKey, 'snapshot'), `${text.slice(0, m.index)}}`))) throw new IntegrityError('the snapshot MAC does not match (forged or tampered snapshot)');
  }
  let doc: SnapshotDoc;
  try {
    doc = JSON.parse(text) as SnapshotDoc;
  } catch {
    throw new IntegrityError('the snapshot is not JSON');
  }
  const ids = (v: unknown) => Array.isArray(v) && v.every((x) => typeof x === 'string' && SHARD_ID.test(x));
  if (doc.backup_id !== backupId) throw new IntegrityError(`the snapshot names backup ${String(doc.backup_id)}, not ${backupId} (moved or forged)`);
  if (!ids(doc.files_shards) || !ids(doc.chunks_shards)) throw new IntegrityError('the snapshot lists manifest shards that are not shard ids');
  if (!(SECURITY_LEVELS as readonly string[]).includes(doc.security_level)) throw new IntegrityError(`the snapshot names an unknown security level ${String(doc.security_level)}`);
  if (typeof doc.key_id !== 'string' || typeof doc.metadata !== 'object' || doc.metadata === null) throw new IntegrityError('the snapshot is missing its key id or metadata');
  return doc;
}
