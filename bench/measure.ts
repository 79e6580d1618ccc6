/**
 * Runs one operation as a child process and measures it: wall time, peak RSS and CPU time of the process
 * (through GNU time's wait4 rusage when /usr/bin/time exists, else by polling VmHWM), and optionally the
 * memory and CPU of a long-lived helper process found through a pid file (PlexiChat's catalog server).
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { cpuSeconds, machineBusySeconds, privateBytes, readPidFile, resetHighWaterMark, vmField } from './procfs';

const GNU_TIME = '/usr/bin/time';
const POLL_MS = 50;
const KEEP_OUTPUT = 4 * 1024 * 1024;

export interface HelperUsage {
  pid: number;
  /** Highest RSS seen during the operation (bytes): VmHWM, reset at the start when the helper already ran. */
  peakRss: number;
  /** Highest memory of its own (private pages, polled every POLL_MS): what it adds to the command's RSS. */
  peakPrivate: number | null;
  /** CPU seconds the helper used during the operation. */
  cpuSeconds: number | null;
}

export interface Measured {
  code: number | null;
  seconds: number;
  peakRss: number | null;
  cpuSeconds: number | null;
  stdout: string;
  stderr: string;
  helper: HelperUsage | null;
  /** CPU seconds the whole machine was busy during the operation (all processes, all cores). */
  machineCpuSeconds: number | null;
  rssMethod: 'rusage' | 'poll';
}

/** Environment of the child (only what is given: nothing is inherited). */
export type Env = Record<string, string | undefined>;

export interface MeasureOptions {
  cwd?: string;
  env?: Env;
  helperPidFile?: string;
}

let seq = 0;

export async function measure(cmd: string, args: string[], opts: MeasureOptions = {}): Promise<Measured> {
  const useTime = existsSync(GNU_TIME) && process.env.BENCH_RSS !== 'poll';
  const timeFile = path.join(tmpdir(), `bench-time-${process.pid}-${++seq}.txt`);
  const helper = new HelperWatch(opts.helperPidFile);
  const busyAtStart = machineBusySeconds();
  const started = performance.now();
  const start = (c: string, a: string[]) => spawn(c, a, { cwd: opts.cwd, env: opts.env as NodeJS.ProcessEnv | undefined, stdio: ['ignore', 'pipe', 'pipe'] });
  const child = useTime ? start(GNU_TIME, ['-f', '%M %U %S', '-o', timeFile, '--', cmd, ...args]) : start(cmd, args);
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout = (stdout + s).slice(-KEEP_OUTPUT)));
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr = (stderr + s).slice(-KEEP_OUTPUT)));
  let polledPeak = 0;
  const timer = setInterval(() => {
    if (!useTime && child.pid) polledPeak = Math.max(polledPeak, vmField(child.pid, 'VmHWM') ?? 0);
    helper.poll();
  }, POLL_MS);
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (c) => resolve(c));
  }).finally(() => clearInterval(timer));
  const seconds = (performance.now() - started) / 1000;
  const busyAtEnd = machineBusySeconds();
  const machineCpu = busyAtStart !== null && busyAtEnd !== null ? busyAtEnd - busyAtStart : null;
  let peakRss: number | null = polledPeak || null;
  let cpu: number | null = null;
  if (useTime) {
    const fields = (await readFile(timeFile, 'utf8').catch(() => '')).trim().split('\n').pop()?.split(' ').map(Number) ?? [];
    const [maxKiB, user, sys] = fields;
    peakRss = maxKiB !== undefined && Number.isFinite(maxKiB) ? maxKiB * 1024 : null;
    cpu = user !== undefined && sys !== undefined && Number.isFinite(user + sys) ? user + sys : null;
    await rm(timeFile, { force: true });
  }
  return { code, seconds, peakRss, cpuSeconds: cpu, stdout, stderr, helper: helper.finish(), machineCpuSeconds: machineCpu, rssMethod: useTime ? 'rusage' : 'poll' };
}

/** Follows a helper process named by a pid file: the one running at the start, or the one that appears. */
class HelperWatch {
  private pid: number | null = null;
  private cpuStart = 0;
  private peak = 0;
  private peakPrivate: number | null = null;
  /** VmHWM counts only when it covers this operation alone: reset at the start, or the helper started during it. */
  private useHwm = true;

  constructor(private readonly pidFile?: string) {
    if (!pidFile) return;
    const pid = readPidFile(pidFile);
    if (pid === null) return;
    this.pid = pid;
    this.cpuStart = cpuSeconds(pid) ?? 0;
    this.useHwm = resetHighWaterMark(pid);
  }

  poll(): void {
    if (!this.pidFile) return;
    if (this.pid === null) {
      this.pid = readPidFile(this.pidFile);
      if (this.pid === null) return;
      this.cpuStart = 0; // started during this operation
    }
    const rss = vmField(this.pid, 'VmRSS') ?? 0;
    const hwm = this.useHwm ? (vmField(this.pid, 'VmHWM') ?? 0) : 0;
    this.peak = Math.max(this.peak, rss, hwm);
    const own = privateBytes(this.pid);
    if (own !== null) this.peakPrivate = Math.max(this.peakPrivate ?? 0, own);
  }

  finish(): HelperUsage | null {
    this.poll();
    if (this.pid === null) return null;
    const end = cpuSeconds(this.pid);
    return { pid: this.pid, peakRss: this.peak, peakPrivate: this.peakPrivate, cpuSeconds: end === null ? null : end - this.cpuStart };
  }
}
