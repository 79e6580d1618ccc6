/**
 * Key escrow: the master keys, sealed to an escrow holder's RSA public key (RSA-OAEP with SHA-256 wrapping a
 * fresh AES-256-GCM key), so that whoever holds the private key — a security officer, a vault — can recover
 * the repository when the installation's own key is lost. The package names the repository and the keys'
 * fingerprints in clear (never the keys), and is useless without the private key.
 */
import { constants, createCipheriv, createDecipheriv, createHash, createPrivateKey, createPublicKey, privateDecrypt, publicEncrypt, randomBytes } from 'node:crypto';
import { EngineError } from '../errors';
import { keyFingerprint } from './keys';

export const ESCROW_FORMAT = 'plexichat-key-escrow';
const MIN_RSA_BITS = 3072;

export interface EscrowPackage {
  format: typeof ESCROW_FORMAT;
  version: 1;
  created_at: string;
  repo_id: string;
  /** Fingerprints of the escrowed master keys, the current one first. */
  master_keys: string[];
  algorithm: 'RSA-OAEP-SHA256/AES-256-GCM';
  /** SHA-256 of the recipient's public key (DER), to tell which private key opens it. */
  recipient: string;
  wrapped_key: string;
  nonce: string;
  ciphertext: string;
}

const OAEP = { padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' } as const;

function recipientOf(publicKeyPem: string) {
  let key;
  try {
    key = createPublicKey(publicKeyPem);
  } catch (err) {
    throw new EngineError('INVALID', `The escrow public key is not a PEM public key: ${(err as Error).message}.`);
  }
  const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
  if (key.asymmetricKeyType !== 'rsa' || bits < MIN_RSA_BITS) {
    throw new EngineError('INVALID', `The escrow key must be an RSA public key of at least ${MIN_RSA_BITS} bits (got ${key.asymmetricKeyType} ${bits || '?'} bits).`);
  }
  return { key, id: createHash('sha256').update(key.export({ type: 'spki', format: 'der' })).digest('hex') };
}

export function sealEscrow(masters: Buffer[], repoId: string, publicKeyPem: string, now = new Date()): EscrowPackage {
  const recipient = recipientOf(publicKeyPem);
  const aesKey = randomBytes(32);
  const nonce = randomBytes(12);
  const master_keys = masters.map(keyFingerprint);
  const c = createCipheriv('aes-256-gcm', aesKey, nonce);
  c.setAAD(Buffer.from(`${ESCROW_FORMAT}:${repoId}:${master_keys.join(',')}`));
  const body = Buffer.concat([c.update(JSON.stringify(masters.map((m) => m.toString('hex')))), c.final(), c.getAuthTag()]);
  return {
    format: ESCROW_FORMAT,
    version: 1,
    created_at: now.toISOString(),
    repo_id: repoId,
    master_keys,
    algorithm: 'RSA-OAEP-SHA256/AES-256-GCM',
    recipient: recipient.id,
    wrapped_key: publicEncrypt({ key: recipient.key, ...OAEP }, aesKey).toString('base64'),
    nonce: nonce.toString('base64'),
    ciphertext: body.toString('base64'),
  };
}

/** Opens an escrow package with the holder's private key: the master keys, the current one first. */
export function openEscrow(pkg: EscrowPackage, privateKeyPem: string): Buffer[] {
  if (pkg?.format !== ESCROW_FORMAT || pkg.version !== 1) throw new EngineError('INVALID', 'This file is not a PlexiChat key escrow package (format plexichat-key-escrow, version 1).');
  let aesKey: Buffer;
  try {
    aesKey = privateDecrypt({ key: createPrivateKey(privateKeyPem), ...OAEP }, Buffer.from(pkg.wrapped_key, 'base64'));
  } catch {
    throw new EngineError('INVALID', `This private key does not open the escrow package (it was sealed for the public key ${pkg.recipient.slice(0, 16)}…).`);
  }
  try {
    const body = Buffer.from(pkg.ciphertext, 'base64');
    const d = createDecipheriv('aes-256-gcm', aesKey, Buffer.from(pkg.nonce, 'base64'));
    d.setAAD(Buffer.from(`${ESCROW_FORMAT}:${pkg.repo_id}:${pkg.master_keys.join(',')}`));
    d.setAuthTag(body.subarray(body.length - 16));
    const keys = (JSON.parse(Buffer.concat([d.update(body.subarray(0, body.length - 16)), d.final()]).toString('utf8')) as string[]).map((h) => Buffer.from(h, 'hex'));
    if (keys.map(keyFingerprint).join() !== pkg.master_keys.join()) throw new Error('fingerprints differ');
    return keys;
  } catch {
    throw new EngineError('INTEGRITY', 'The escrow package is damaged or was altered: its contents do not authenticate.');
  }
}
