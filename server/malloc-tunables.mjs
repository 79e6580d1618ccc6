// glibc malloc settings for PlexiChat's own processes: the CLI (its shebang sets the same values), the
// embedded catalog server and the console. Plain JavaScript, so bin/*.mjs use it without the build.
//
// A backup moves its data in buffers of about a megabyte, allocated and freed by four threads. Two arenas:
// with glibc's default every thread that allocates gets an arena of its own (up to 8 per core), each keeping
// freed memory resident. An mmap threshold fixed at 4 MiB: buffers up to 4 MiB (chunks, stored copies,
// decoded plaintext) come from those arenas and are reused warm once freed; larger ones are mappings of their
// own, returned whole when freed. glibc's default threshold starts at 128 KiB and rises with the largest
// buffer freed, up to 32 MiB.
//
// Until session 26 the threshold was fixed at 128 KiB, which took ~25–35 MiB off a backup's CLI, but made
// every buffer of 128 KiB or more fresh pages from the kernel: an mmap, a page fault per 4 KiB, an munmap.
// Where a page fault is dear (a virtual machine whose hypervisor handles each one: ~10 µs a page on the
// 2-core machine of session 26, 390 MB/s to touch fresh memory against 31 GB/s warm), that was most of a
// restore's time. 1 GiB of random data, caches dropped, 2 runs each in turns, 128 KiB → 4 MiB: restore into
// a fresh ext4 5.9–7.0 → 3.5–4.2 s (page faults 300,000–390,000 → 48,000), peak RSS 153–162 → 165–170 MiB;
// backup 8.5–10.3 → 7.3–9.0 s (faults 226,000–264,000 → 53,000–59,000), peak RSS 173–188 → 187–194 MiB.
//
// They are set through glibc's own environment variables for these two tunables, not GLIBC_TUNABLES: glibc
// rewrites GLIBC_TUNABLES in a process's environment as it parses it (2.36 leaves only the text before the
// first ':'), so a child started with `{ ...process.env }` would inherit a cut value. Other C libraries (musl)
// ignore both.

/** The variables, and the values the processes run with. */
export const MALLOC_ENV = Object.freeze({ MALLOC_ARENA_MAX: '2', MALLOC_MMAP_THRESHOLD_: '4194304' });

/** `env` with MALLOC_ENV added; an operator's own value of either variable wins. */
export function withMallocTunables(env) {
  const out = { ...env };
  for (const [name, value] of Object.entries(MALLOC_ENV)) out[name] ??= value;
  return out;
}
