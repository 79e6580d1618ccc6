import { StorageError, type ObjectInfo, type StorageBackend, type StorageUsage } from './backend';

/** A location held in process memory: the reference for the conformance suite and a fast backend for tests. */
export class MemoryBackend implements StorageBackend {
  readonly type = 'memory';
  private readonly objects = new Map<string, Buffer>();

  constructor(readonly name: string) {}

  async init(): Promise<void> {}

  async put(key: string, data: Buffer): Promise<void> {
    this.check(key);
    // Copy, so later changes to the caller's buffer cannot alter the stored object.
    this.objects.set(key, Buffer.from(data));
  }

  async get(key: string): Promise<Buffer> {
    this.check(key);
    const data = this.objects.get(key);
    if (!data) throw new StorageError('not_found', this.name, `object ${key} not found`, { key });
    return Buffer.from(data);
  }

  async stat(key: string): Promise<ObjectInfo | null> {
    this.check(key);
    const data = this.objects.get(key);
    return data ? { key, size: data.length } : null;
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    // Snapshot the keys so deletes during iteration behave as they do on real stores.
    for (const [key, data] of [...this.objects]) if (key.startsWith(prefix)) yield { key, size: data.length };
  }

  async delete(key: string): Promise<void> {
    this.check(key);
    this.objects.delete(key);
  }

  async usage(): Promise<StorageUsage> {
    let bytes = 0;
    for (const data of this.objects.values()) bytes += data.length;
    return { bytes, objects: this.objects.size };
  }

  async ping(): Promise<void> {}

  async close(): Promise<void> {}

  private check(key: string): void {
    if (key === '' || key.startsWith('/')) throw new StorageError('permanent', this.name, `invalid object key "${key}"`, { key });
  }
}
