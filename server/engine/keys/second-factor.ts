/**
 * The second factor of security levels HIGH and MAXIMUM: a passphrase (PLEXICHAT_HIGH_PASSPHRASE) or a key
 * file (high_key_file), never stored with the master key, in the catalog or in storage. It is mixed into the
 * level's KDF with the master key (keys.ts), so the master key alone — or a stolen data_dir — opens no HIGH or
 * MAXIMUM data. See docs/security-levels.md.
 */
import { readFileSync } from 'node:fs';
import type { Config } from '../../config';
import { EngineError } from '../errors';
import type { SecondFactor } from './keys';

const MIN_FILE_BYTES = 16;

export function loadSecondFactor(source: Config['second_factor_source']): SecondFactor | null {
  if (!source) return null;
  // Domain-separated so a passphrase and a key file with the same bytes are different factors.
  if (source.kind === 'env') return { bytes: Buffer.concat([Buffer.from('passphrase:'), Buffer.from(source.value.normalize('NFC'), 'utf8')]), name: 'PLEXICHAT_HIGH_PASSPHRASE' };
  let body: Buffer;
  try {
    body = readFileSync(source.path);
  } catch (err) {
    throw new EngineError('INVALID', `The HIGH/MAXIMUM key file ${source.path} (high_key_file) cannot be read: ${(err as Error).message}. Mount it, or unset high_key_file to run without HIGH and MAXIMUM.`);
  }
  if (body.length < MIN_FILE_BYTES) throw new EngineError('INVALID', `The HIGH/MAXIMUM key file ${source.path} holds ${body.length} bytes; it needs at least ${MIN_FILE_BYTES} random bytes (e.g. head -c 32 /dev/urandom > FILE).`);
  return { bytes: Buffer.concat([Buffer.from('keyfile:'), body]), name: `key file ${source.path}` };
}
