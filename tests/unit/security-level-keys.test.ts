/**
 * The key material behind HIGH and MAXIMUM: k-of-n quorum shares (any k reassemble, k-1 are refused), the
 * quorum seal, and the key ring's v2 wrappings (second factor required, wrong factor refused, MAXIMUM unreadable
 * without the operation's quorum and never cached), plus reading wrapping v1.
 */
import { createCipheriv, pbkdf2Sync, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { KeyRing } from '../../server/engine/keys/keys';
import { combineShares, newQuorumKey, openFromQuorum, sealToQuorum, splitSecret, subsets, withQuorumShares } from '../../server/engine/keys/quorum';

const factor = (s: string) => ({ bytes: Buffer.from(s), name: 'PLEXICHAT_HIGH_PASSPHRASE' });

describe('quorum shares', () => {
  it('every k-subset of n holders reassembles the key; k-1 are refused', () => {
    const { pub, priv } = newQuorumKey();
    const shares = splitSecret(priv, pub, 3, 5);
    for (const s of subsets(5, 3)) expect(combineShares(s.map((i) => shares[i - 1]!)).privateKey.equals(priv)).toBe(true);
    expect(combineShares(shares).privateKey.equals(priv)).toBe(true); // more than k: fine
    for (const s of subsets(5, 2)) expect(() => combineShares(s.map((i) => shares[i - 1]!))).toThrow(/needs 3 shares .* only 2 given/);
  });

  it('refuses shares of another quorum, and altered shares', () => {
    const a = newQuorumKey();
    const b = newQuorumKey();
    const sa = splitSecret(a.priv, a.pub, 2, 3);
    const sb = splitSecret(b.priv, b.pub, 2, 3);
    expect(() => combineShares([sa[0]!, sb[1]!])).toThrow(/different quorums/);
    const doc = JSON.parse(Buffer.from(sa[1]!.slice('plexichat-share-v1:'.length), 'base64url').toString('utf8')) as { p: string[] };
    doc.p[0] = randomBytes(32).toString('base64');
    const forged = `plexichat-share-v1:${Buffer.from(JSON.stringify(doc)).toString('base64url')}`;
    expect(() => combineShares([sa[0]!, forged])).toThrow(/do not reassemble/);
    expect(() => combineShares(['hello', sa[0]!])).toThrow(/Share 1 is not a PlexiChat quorum share/);
  });

  it('a single share reveals nothing: its pieces are independent of the key', () => {
    const { pub, priv } = newQuorumKey();
    const one = splitSecret(priv, pub, 2, 2)[0]!;
    const two = splitSecret(priv, pub, 2, 2)[0]!;
    expect(one).not.toBe(two); // fresh randomness each split: holder 1's piece alone is uniformly random
    expect(one).not.toContain(priv.toString('base64'));
  });

  it('seals to the quorum key and opens only with it', () => {
    const { pub, priv } = newQuorumKey();
    const other = newQuorumKey();
    const key = randomBytes(32);
    const sealed = sealToQuorum(pub, key, 'dk-1');
    expect(openFromQuorum({ id: 'q', privateKey: priv }, sealed, 'dk-1').equals(key)).toBe(true);
    expect(() => openFromQuorum({ id: 'q', privateKey: other.priv }, sealed, 'dk-1')).toThrow();
    expect(() => openFromQuorum({ id: 'q', privateKey: priv }, sealed, 'dk-2')).toThrow();
  });
});

describe('key ring wrappings v2', () => {
  const master = randomBytes(32);
  const salt = randomBytes(16);

  it('HIGH: needs the second factor, refuses the wrong one, opens with the right one', async () => {
    const w = new KeyRing(master, salt);
    await expect(w.newKey('high', 'aes-256-gcm')).rejects.toThrow(/HIGH needs the second factor/);
    w.setSecondFactor(factor('a long passphrase'));
    const { key, wrapped } = await w.newKey('high', 'aes-256-gcm');
    expect(wrapped.wrapped.startsWith('v2.')).toBe(true);
    await expect(new KeyRing(master, salt).unwrap(wrapped)).rejects.toThrow(/needs the second factor/);
    const wrong = new KeyRing(master, salt);
    wrong.setSecondFactor(factor('another passphrase'));
    await expect(wrong.unwrap(wrapped)).rejects.toThrow(/is not the one it was wrapped with/);
    const right = new KeyRing(master, salt);
    right.setSecondFactor(factor('a long passphrase'));
    expect((await right.unwrap(wrapped)).equals(key)).toBe(true);
    // The master key alone never opens it, even with STANDARD's or v1's derivation.
    const v1 = new KeyRing(master, salt);
    await expect(v1.unwrap({ ...wrapped, wrapped: wrapped.wrapped.slice(3) })).rejects.toThrow(/Cannot unwrap data key/);
  });

  it('MAXIMUM: writes with the public key only; reads only inside an operation given k shares; never cached', async () => {
    const { pub, priv } = newQuorumKey();
    const shares = splitSecret(priv, pub, 2, 3);
    const ring = new KeyRing(master, salt);
    ring.setSecondFactor(factor('a long passphrase'));
    await expect(ring.newKey('maximum', 'aes-256-gcm')).rejects.toThrow(/MAXIMUM needs a key-holder quorum/);
    ring.setQuorum({ id: combineShares(shares).id, pub });
    const { key, wrapped } = await ring.newKey('maximum', 'aes-256-gcm');
    await expect(ring.unwrap(wrapped)).rejects.toThrow(/needs the key holders' quorum/);
    await expect(withQuorumShares([shares[2]!], () => ring.unwrap(wrapped))).rejects.toThrow(/needs 2 shares/);
    expect((await withQuorumShares([shares[0]!, shares[2]!], () => ring.unwrap(wrapped))).equals(key)).toBe(true);
    await expect(ring.unwrap(wrapped)).rejects.toThrow(/quorum/); // not cached after the operation
  });

  it('reads wrapping v1 (PBKDF2 over the master key alone) and upgrades it to v2', async () => {
    const key = randomBytes(32);
    const kek = pbkdf2Sync(master, Buffer.concat([salt, Buffer.from('high')]), 100_000, 32, 'sha256');
    const nonce = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', kek, nonce);
    c.setAAD(Buffer.from('dk-old'));
    const old = { id: 'dk-old', securityLevel: 'high' as const, algorithm: 'aes-256-gcm' as const, wrapped: Buffer.concat([nonce, c.update(key), c.final(), c.getAuthTag()]).toString('base64'), kekId: new KeyRing(master, salt).masterId };
    expect((await new KeyRing(master, salt).unwrap(old)).equals(key)).toBe(true);
    const ring = new KeyRing(master, salt);
    expect(ring.isCurrent(old)).toBe(true); // without the factor nothing to upgrade to
    ring.setSecondFactor(factor('a long passphrase'));
    expect(ring.isCurrent(old)).toBe(false);
    const up = await ring.rewrap(old);
    expect(up.wrapped.startsWith('v2.')).toBe(true);
    await expect(new KeyRing(master, salt).unwrap(up)).rejects.toThrow(/second factor/);
  });
});
