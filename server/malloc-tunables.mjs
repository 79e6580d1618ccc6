// glibc malloc settings for PlexiChat's own processes: the CLI (its shebang sets the same values), the
// embedded catalog server and the console. Plain JavaScript, so bin/*.mjs use it without the build.
//
// A backup moves its data in buffers of about a megabyte, allocated and freed by four threads. With glibc's
// defaults two things keep freed memory resident: the mmap threshold rises to the size of the largest buffer
// freed (so later 1 MiB buffers come from an arena, where a free page is returned only from the arena's top),
// and every thread that allocates gets an arena of its own (up to 8 per core). A fixed 128 KiB threshold (a
// large buffer is its own mapping, returned whole when freed) and two arenas took ~25–35 MiB off a 680 MiB
// backup's CLI (peak PSS 172–193 → 146–151 MiB, three runs each), with no more CPU time (docs/operations.md,
// "Memory").
//
// They are set through glibc's own environment variables for these two tunables, not GLIBC_TUNABLES: glibc
// rewrites GLIBC_TUNABLES in a process's environment as it parses it (2.36 leaves only the text before the
// first ':'), so a child started with `{ ...process.env }` would inherit a cut value. Other C libraries (musl)
// ignore both.

/** The variables, and the values the processes run with. */
export const MALLOC_ENV = Object.freeze({ MALLOC_ARENA_MAX: '2', MALLOC_MMAP_THRESHOLD_: '131072' });

/** `env` with MALLOC_ENV added; an operator's own value of either variable wins. */
export function withMallocTunables(env) {
  const out = { ...env };
  for (const [name, value] of Object.entries(MALLOC_ENV)) out[name] ??= value;
  return out;
}
