/** Runs once when the server starts: open the engine now, so the first admin exists before anyone signs in. */
export async function register(): Promise<void> {
  if (process.env.NEXT_RUNTIME !== 'nodejs') return;
  const { getEngine } = await import('./server/context');
  const engine = await getEngine().catch((err: unknown) => {
    console.error(`[plexichat] could not open the backup engine: ${(err as Error).message}`);
    return null;
  });
  // The embedded worker: runs schedules and the health monitor in the console's process. Turn it off with
  // PLEXICHAT_EMBEDDED_WORKER=false when dedicated `plexichat-backup worker` processes do the work.
  if (engine && !/^(0|false|no|off)$/i.test(process.env.PLEXICHAT_EMBEDDED_WORKER ?? '')) {
    const { startEmbeddedWorker } = await import('./server/jobs/run-worker');
    try {
      startEmbeddedWorker(engine);
    } catch (err) {
      console.error(`[plexichat] could not start the schedule worker: ${(err as Error).message}`);
    }
  }
}
