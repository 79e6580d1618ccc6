/**
 * Memory for decoded shards, handed round instead of allocated per shard. A codec thread allocates little of
 * its own heap, so it collects rarely: every shard it decoded into fresh memory, and the stored copy it was
 * sent, stayed there until V8's external-memory limit forced a collection (25–70 MiB per thread on a restore
 * of /usr/share). Now a decode writes into a spare the main thread handed back once the restore wrote the
 * chunk, and what the thread is done with (the stored copy, the decrypted intermediate) goes back to the
 * main thread with the answer, where it dies young.
 */

/** A bounded list of ArrayBuffers nobody uses; what does not fit is handed back to the caller to drop. */
export class SpareBuffers {
  private readonly list: ArrayBuffer[] = [];
  private bytes = 0;

  constructor(private readonly maxBytes: number) {}

  /** Bytes held. */
  get bytesHeld(): number {
    return this.bytes;
  }

  /** The smallest spare of at least `length` bytes, taken out of the list. */
  take(length: number): ArrayBuffer | undefined {
    let best = -1;
    for (let i = 0; i < this.list.length; i++) {
      const n = this.list[i]!.byteLength;
      if (n >= length && (best < 0 || n < this.list[best]!.byteLength)) best = i;
    }
    return best < 0 ? undefined : this.remove(best);
  }

  /** The spare given last, if any. */
  takeAny(): ArrayBuffer | undefined {
    return this.list.length ? this.remove(this.list.length - 1) : undefined;
  }

  /** Keeps `ab`; returns what no longer fits under the bound (the oldest first), for the caller to drop. */
  put(ab: ArrayBuffer): ArrayBuffer[] {
    this.list.push(ab);
    this.bytes += ab.byteLength;
    const out: ArrayBuffer[] = [];
    while (this.bytes > this.maxBytes) out.push(this.remove(0));
    return out;
  }

  private remove(i: number): ArrayBuffer {
    const [ab] = this.list.splice(i, 1);
    this.bytes -= ab!.byteLength;
    return ab!;
  }
}

/** Whether `b` is a view of a whole ArrayBuffer of its own (never a slice of Node's shared pool): transferable. */
export function ownsWhole(b: Uint8Array): boolean {
  return b.byteOffset === 0 && b.byteLength === b.buffer.byteLength && b.buffer instanceof ArrayBuffer && b.byteLength > 0;
}
