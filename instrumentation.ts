/** Runs once when the server starts: open the engine now, so the first admin exists before anyone signs in. */
export async function register(): Promise<void> {
  if (process.env.NEXT_RUNTIME !== 'nodejs') return;
  const { getEngine } = await import('./server/context');
  await getEngine().catch((err: unknown) => console.error(`[plexichat] could not open the backup engine: ${(err as Error).message}`));
}
