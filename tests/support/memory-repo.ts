/**
 * An engine context with no database at all: a MemoryShardIndex for the catalog's shard records and
 * MemoryBackend locations (with fault hooks) for storage, a MemoryKeySource for data keys. Anything that still reaches for `ctx.db` or the key
 * ring fails loudly, so a test built on it proves the path it runs needs neither.
 */
import { randomBytes } from 'node:crypto';
import type { Config } from '../../server/config';
import { loadConfig } from '../../server/config';
import type { EngineContext } from '../../server/engine/context';
import { CodecPool } from '../../server/engine/repository/codec-pool';
import type { KeySource } from '../../server/engine/repository/key-source';
import { MemoryShardIndex } from '../../server/engine/repository/memory-shard-index';
import { type Location, LocationSet } from '../../server/engine/storage/locations';
import { MemoryBackend } from '../../server/engine/storage/memory';
import type { SecurityLevel } from '../../server/engine/types';

/** A memory location whose writes (and deletes) can be made to fail or to hang. */
export class FaultyMemoryBackend extends MemoryBackend {
  /** Called before each put; throw to fail it, return a promise that never settles to hang it. */
  beforePut: (key: string) => void | Promise<void> = () => undefined;

  /** Called before each delete; throw to fail it. */
  beforeDelete: (key: string) => void | Promise<void> = () => undefined;

  override async put(key: string, data: Buffer): Promise<void> {
    await this.beforePut(key);
    return super.put(key, data);
  }

  override async delete(key: string): Promise<void> {
    await this.beforeDelete(key);
    return super.delete(key);
  }
}

/** Data keys held in a map: what the catalog's data_keys rows and the key ring give the read path. */
export class MemoryKeySource implements KeySource {
  private readonly keys = new Map<string, { level: SecurityLevel; key: Buffer }>();
  private n = 0;

  constructor(readonly plaintextAllowed: () => Promise<boolean>) {}

  /** A new random data key of a level, as a backup at that level would write with. */
  add(level: SecurityLevel): { keyId: string; key: Buffer } {
    const keyId = `memory-key-${++this.n}`;
    const key = randomBytes(32);
    this.keys.set(keyId, { level, key });
    return { keyId, key };
  }

  async dataKey(keyId: string, level: SecurityLevel): Promise<Buffer | null> {
    const k = this.keys.get(keyId);
    return k && k.level === level ? k.key : null;
  }
}

const forbidden = (what: string) =>
  new Proxy({}, {
    get(_t, prop) {
      throw new Error(`this test has no ${what} (touched ${String(prop)})`);
    },
  });

export interface MemoryRepo {
  ctx: EngineContext;
  index: MemoryShardIndex;
  keySource: MemoryKeySource;
  backends: Map<string, FaultyMemoryBackend>;
  close(): Promise<void>;
}

export function memoryRepo(opts: { locations?: string[]; config?: Partial<Config> } = {}): MemoryRepo {
  const names = opts.locations ?? ['a', 'b'];
  const base = loadConfig({ PLEXICHAT_DATA_DIR: '/nonexistent/plexichat-memory-repo', PLEXICHAT_ENCRYPTION_KEY: randomBytes(32).toString('hex') });
  const config: Config = { ...base, replication_factor: 2, ...opts.config };
  const backends = new Map(names.map((n) => [n, new FaultyMemoryBackend(n)]));
  const all: Location[] = names.map((name, i) => ({
    name,
    config: { name, type: 'local', path: `/nonexistent/${name}`, priority: 10 + i, region: 'r', enabled: true },
    backend: backends.get(name)!,
    usedBytes: 0,
    failures: 0,
    lastError: null,
    unhealthyUntil: 0,
    ops: 0,
    errors: 0,
  }));
  const index = new MemoryShardIndex();
  const pool = new CodecPool(2);
  // The repository may hold plaintext only when this installation writes it (no authenticated repo config here).
  const keySource = new MemoryKeySource(async () => !config.enable_encryption);
  const ctx: EngineContext = {
    config,
    db: forbidden('database') as EngineContext['db'],
    index,
    keys: forbidden('key ring') as EngineContext['keys'],
    keySource,
    idKey: randomBytes(32),
    locations: new LocationSet(all),
    pool,
    log: () => undefined,
    now: () => new Date('2026-01-01T00:00:00Z'),
  };
  return { ctx, index, keySource, backends, close: () => pool.close() };
}
