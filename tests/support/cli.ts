/** Runs the real CLI binary, as a user would. */
import { spawn } from 'node:child_process';
import path from 'node:path';

export const CLI = path.resolve('bin/plexichat-backup.mjs');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
  json: unknown;
}

/** cwd: the folder it runs in (default this one); uid/gid: run as that user (needs root). */
export function runCli(args: string[], env: Record<string, string | undefined>, opts: { onSpawn?: (pid: number) => void; cwd?: string; uid?: number; gid?: number } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: env as NodeJS.ProcessEnv, stdio: ['ignore', 'pipe', 'pipe'], cwd: opts.cwd, uid: opts.uid, gid: opts.gid });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    if (child.pid) opts.onSpawn?.(child.pid);
    child.on('close', (code) => {
      let json: unknown = undefined;
      if (args.includes('--json')) {
        try {
          json = JSON.parse(stdout);
        } catch {
          json = undefined;
        }
      }
      resolve({ code, stdout, stderr, json });
    });
  });
}
