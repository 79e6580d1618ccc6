// The console's log file (bin/start.mjs): everything it and the server print, appended to
// <data_dir>/logs/plexichat.log as well as the terminal. Rotated by size: past `maxBytes` the file becomes
// plexichat.log.1 (the older ones move up to .<keep>, the oldest is dropped) and a new one starts.
import { closeSync, existsSync, fstatSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import path from 'node:path';

export class LogFile {
  /**
   * @param {string} file
   * @param {{ maxBytes?: number, keep?: number }} [opts]
   */
  constructor(file, { maxBytes = 10 * 1024 * 1024, keep = 5 } = {}) {
    this.file = file;
    this.maxBytes = maxBytes;
    this.keep = keep;
    mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    this.fd = openSync(file, 'a', 0o600);
    this.size = fstatSync(this.fd).size;
  }

  /** @param {string | Uint8Array} chunk */
  write(chunk) {
    const data = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    if (this.size > 0 && this.size + data.length > this.maxBytes) this.rotate();
    writeSync(this.fd, data);
    this.size += data.length;
  }

  rotate() {
    closeSync(this.fd);
    rmSync(`${this.file}.${this.keep}`, { force: true });
    for (let i = this.keep - 1; i >= 1; i--) if (existsSync(`${this.file}.${i}`)) renameSync(`${this.file}.${i}`, `${this.file}.${i + 1}`);
    renameSync(this.file, `${this.file}.1`);
    this.fd = openSync(this.file, 'a', 0o600);
    this.size = 0;
  }

  close() {
    closeSync(this.fd);
  }
}
