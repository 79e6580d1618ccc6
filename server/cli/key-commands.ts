/**
 * `plexichat-backup keys …`: status, rotate, escrow export / open. Rotation re-wraps every key under a new
 * master key (server/engine/keys/key-rotation.ts). With a generated key file the CLI makes the new key itself,
 * keeping the replaced one in `master.key.previous` until a run completes; with PLEXICHAT_ENCRYPTION_KEY the
 * operator sets the new key there and the old one in PLEXICHAT_PREVIOUS_ENCRYPTION_KEYS, then runs rotate.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { sql } from 'drizzle-orm';
import type { Config } from '../config';
import type { BackupEngine } from '../engine/engine';
import { type EscrowPackage, openEscrow } from '../engine/keys/escrow';
import type { RotationReport } from '../engine/keys/key-rotation';
import { previousKeyFile } from '../engine/keys/keys';
import { cliActor } from './actor';
import { EXIT, UsageError } from './output';

interface Result {
  json?: unknown;
  text?: string;
  code?: number;
}

const USAGE =
  'Usage: plexichat-backup keys status | rotate | upgrade | escrow export --public-key FILE [--out FILE] | escrow open --in FILE --private-key FILE | quorum init --threshold K --holders N [--out-dir DIR] [--replace] | quorum status';

function parse(args: string[]) {
  try {
    return parseArgs({
      args,
      options: {
        json: { type: 'boolean', default: false },
        'public-key': { type: 'string' },
        'private-key': { type: 'string' },
        out: { type: 'string' },
        in: { type: 'string' },
        threshold: { type: 'string' },
        holders: { type: 'string' },
        'out-dir': { type: 'string' },
        replace: { type: 'boolean', default: false },
      },
      allowPositionals: true,
      strict: true,
    });
  } catch (err) {
    throw new UsageError(`${(err as Error).message}. ${USAGE}`);
  }
}

/** Writes a key file durably with mode 0600. */
function writeSecretFile(file: string, text: string, flag: 'w' | 'a' = 'w'): void {
  const fd = openSync(file, flag, 0o600);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

const hexKeys = (file: string) => (existsSync(file) ? readFileSync(file, 'utf8').split('\n').map((l) => l.trim()).filter((l) => /^[0-9a-fA-F]{64}$/.test(l)) : []);

/**
 * A generated key file: a new key becomes master.key, the replaced one goes to master.key.previous first, so
 * at every moment both files together hold every key that may wrap something. An unfinished rotation (a
 * previous file holding another key) is resumed instead of starting a new one.
 */
function swapKeyFile(keyFile: string): 'started' | 'resumed' {
  if (!existsSync(keyFile)) throw new UsageError(`There is no master key file at ${keyFile} yet: open the installation once (any command) before rotating.`);
  const current = readFileSync(keyFile, 'utf8').trim();
  const prevFile = previousKeyFile(keyFile);
  if (hexKeys(prevFile).some((k) => k !== current)) return 'resumed';
  writeSecretFile(`${keyFile}.next`, `${randomBytes(32).toString('hex')}\n`);
  writeSecretFile(prevFile, `${current}\n`);
  renameSync(`${keyFile}.next`, keyFile);
  return 'started';
}

function rotationText(r: RotationReport, finish: string): string {
  const lines = [
    `master key ${r.master_key}${r.previous_keys.length ? ` (replaced: ${r.previous_keys.join(', ')})` : ''}`,
    `data keys: ${r.data_keys.rewrapped} re-wrapped, ${r.data_keys.already_current} already current, ${r.data_keys.hsm} in the HSM`,
    `key objects rewritten: ${r.key_objects.rewritten}; repository config rewritten: ${r.repository_config.rewritten}; secrets re-sealed: ${r.secrets_resealed}`,
    ...r.data_keys.failed.map((f) => `  FAILED data key ${f}`),
    ...r.key_objects.failed.map((f) => `  FAILED ${f}`),
    ...r.repository_config.failed.map((f) => `  FAILED config.json at ${f}`),
  ];
  if (r.running_backups.length) lines.push(`backups still running (they may use the replaced key): ${r.running_backups.join(', ')}`);
  lines.push(r.complete ? `Rotation complete. ${finish}` : 'Rotation NOT complete: keep the replaced key configured and run "plexichat-backup keys rotate" again once the failures above are fixed and no backup runs.');
  return lines.join('\n');
}

async function rotate(config: Config, open: () => Promise<BackupEngine>): Promise<Result> {
  const source = config.master_key_source;
  if (source.kind === 'file') {
    const how = swapKeyFile(source.path);
    const e = await open();
    const r = await e.rotateKeys({ actor: cliActor() });
    if (r.complete) unlinkSync(previousKeyFile(source.path));
    const finish = `The replaced key was removed from ${previousKeyFile(source.path)}; back up the new ${source.path} (or export an escrow package).`;
    return { json: { ...r, resumed: how === 'resumed' }, text: `${how === 'resumed' ? 'Resumed an unfinished rotation.\n' : ''}${rotationText(r, finish)}`, code: r.complete ? EXIT.ok : EXIT.failure };
  }
  const e = await open();
  if (!e.masterKeys.previous.length) {
    const left = await e.catalog.db.execute<{ n: number }>(sql`SELECT count(*)::int AS n FROM data_keys WHERE security_level <> 'government' AND kek_id <> ${e.masterKeys.current}`);
    if (!left.rows[0]?.n) {
      return {
        json: { master_key: e.masterKeys.current, complete: true, nothing_to_do: true },
        text: `Every key is already wrapped by the current master key ${e.masterKeys.current}. To rotate: set PLEXICHAT_ENCRYPTION_KEY to a new key and PLEXICHAT_PREVIOUS_ENCRYPTION_KEYS to the current one, then run "plexichat-backup keys rotate".`,
      };
    }
  }
  const r = await e.rotateKeys({ actor: cliActor() });
  return { json: r, text: rotationText(r, 'Remove PLEXICHAT_PREVIOUS_ENCRYPTION_KEYS from every process of this installation and restart them.'), code: r.complete ? EXIT.ok : EXIT.failure };
}

/**
 * `keys upgrade`: re-wraps HIGH/MAXIMUM keys still in wrapping v1 (a KDF over the master key alone) in v2, with
 * the second factor (and for MAXIMUM, sealed to the quorum) — a rotation run that keeps the current master key.
 */
async function upgrade(open: () => Promise<BackupEngine>): Promise<Result> {
  const e = await open();
  const s = await e.securityLevelStatus();
  if (!s.second_factor) throw new UsageError('keys upgrade needs the HIGH/MAXIMUM second factor: set PLEXICHAT_HIGH_PASSPHRASE or high_key_file first (docs/security-levels.md).');
  const r = await e.rotateKeys({ actor: cliActor() });
  const note = s.quorum ? '' : '\nMAXIMUM keys stay in wrapping v1 until a quorum exists: run keys quorum init, then keys upgrade again.';
  return { json: r, text: rotationText(r, 'Every HIGH key (and MAXIMUM key, with a quorum) is now in wrapping v2.') + note, code: r.complete ? EXIT.ok : EXIT.failure };
}

async function status(open: () => Promise<BackupEngine>): Promise<Result> {
  const doc = await (await open()).keyStatus();
  const text = [
    `master key ${doc.master_key} (${doc.source}), ${doc.key_age_days ?? '?'} days old; rotation every ${doc.key_rotation_days} days${doc.rotation_due ? ' — DUE: run "plexichat-backup keys rotate"' : ''}`,
    doc.previous_keys.length ? `replaced keys still configured: ${doc.previous_keys.join(', ')}${doc.rotation_unfinished ? ' (rotation unfinished: run keys rotate)' : ''}` : 'no replaced key configured',
    `data keys: ${Object.entries(doc.data_keys_by_master).map(([k, n]) => `${n} under ${k}`).join(', ') || 'none'}`,
  ].join('\n');
  return { json: doc, text };
}

async function escrow(args: string[], open: () => Promise<BackupEngine>): Promise<Result> {
  const { values: v, positionals } = parse(args);
  const sub = positionals[0];
  if (sub === 'export') {
    if (!v['public-key']) throw new UsageError(`keys escrow export needs --public-key FILE (an RSA public key of at least 3072 bits, PEM). ${USAGE}`);
    const pkg = await (await open()).exportKeyEscrow(readFileSync(String(v['public-key']), 'utf8'), { actor: cliActor() });
    const body = `${JSON.stringify(pkg, null, 2)}\n`;
    if (v.out) writeSecretFile(String(v.out), body);
    return { json: pkg, text: v.out ? `Escrow package for ${pkg.master_keys.join(', ')} written to ${String(v.out)} (sealed for public key ${pkg.recipient.slice(0, 16)}…).` : body.trimEnd() };
  }
  if (sub === 'open') {
    if (!v.in || !v['private-key']) throw new UsageError(`keys escrow open needs --in FILE and --private-key FILE. ${USAGE}`);
    const pkg = JSON.parse(readFileSync(String(v.in), 'utf8')) as EscrowPackage;
    const keys = openEscrow(pkg, readFileSync(String(v['private-key']), 'utf8'));
    process.stderr.write('These are the repository\'s master keys: set PLEXICHAT_ENCRYPTION_KEY to the first one (the others, if any, in PLEXICHAT_PREVIOUS_ENCRYPTION_KEYS) and keep them secret.\n');
    return { json: { repo_id: pkg.repo_id, master_keys: pkg.master_keys, keys_hex: keys.map((k) => k.toString('hex')) }, text: keys.map((k) => k.toString('hex')).join('\n') };
  }
  throw new UsageError(USAGE);
}

/**
 * `keys quorum init`: the MAXIMUM key-holder quorum. The shares are printed (or written one file per holder,
 * mode 0600, with --out-dir) once: they are the only copies of the quorum's private key.
 */
async function quorum(args: string[], open: () => Promise<BackupEngine>): Promise<Result> {
  const { values: v, positionals } = parse(args);
  if (positionals[0] === 'status') {
    const s = await (await open()).securityLevelStatus();
    const text = [
      `HIGH/MAXIMUM second factor: ${s.second_factor ?? 'NOT configured in this process (set PLEXICHAT_HIGH_PASSPHRASE or high_key_file)'}`,
      s.quorum ? `MAXIMUM quorum ${s.quorum.id}: ${s.quorum.threshold} of ${s.quorum.holders} key holders, created ${s.quorum.created_at}` : 'no MAXIMUM quorum yet: plexichat-backup keys quorum init --threshold K --holders N',
    ].join('\n');
    return { json: s, text };
  }
  if (positionals[0] !== 'init') throw new UsageError(USAGE);
  const k = Number(v.threshold);
  const n = Number(v.holders);
  if (!Number.isInteger(k) || !Number.isInteger(n)) throw new UsageError(`keys quorum init needs --threshold K and --holders N (whole numbers, 2 ≤ K ≤ N ≤ 9). ${USAGE}`);
  const outDir = v['out-dir'] ? String(v['out-dir']) : null;
  if (outDir && existsSync(outDir) && readdirSync(outDir).length) throw new UsageError(`--out-dir ${outDir} is not empty; give a new or empty directory (the share files must not mix with others).`);
  const { record, shares } = await (await open()).initKeyQuorum(k, n, { replace: Boolean(v.replace), actor: cliActor() });
  const head = `Quorum ${record.id}: any ${k} of these ${n} shares reassemble the key that opens MAXIMUM data. Give each holder ONE share and keep no copy together; they are not stored anywhere else. Losing more than ${n - k} makes MAXIMUM data unreadable.`;
  if (outDir) {
    mkdirSync(outDir, { recursive: true, mode: 0o700 });
    shares.forEach((sh, i) => writeSecretFile(path.join(outDir, `share-${i + 1}-of-${n}.txt`), `${sh}\n`));
    return { json: { quorum: record.id, threshold: k, holders: n, files: shares.map((_, i) => path.join(outDir, `share-${i + 1}-of-${n}.txt`)) }, text: `${head}\nWritten to ${outDir}/share-1-of-${n}.txt … share-${n}-of-${n}.txt (mode 0600): hand them out, then delete them here.` };
  }
  return { json: { quorum: record.id, threshold: k, holders: n, shares }, text: [head, ...shares.map((sh, i) => `holder ${i + 1}: ${sh}`)].join('\n') };
}

export async function runKeyCommand(cmd: string, args: string[], open: () => Promise<BackupEngine>, config: Config): Promise<Result | null> {
  if (cmd !== 'keys') return null;
  const [sub, ...rest] = args;
  if (sub === 'escrow') return escrow(rest, open);
  if (sub === 'quorum') return quorum(rest, open);
  parse(rest);
  if (sub === 'upgrade') return upgrade(open);
  if (sub === 'rotate') return rotate(config, open);
  if (sub === 'status') return status(open);
  throw new UsageError(USAGE);
}
