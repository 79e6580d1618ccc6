export declare const MALLOC_ENV: Readonly<{ MALLOC_ARENA_MAX: string; MALLOC_MMAP_THRESHOLD_: string }>;
export declare function withMallocTunables<E extends Record<string, string | undefined>>(env: E): E & { MALLOC_ARENA_MAX: string; MALLOC_MMAP_THRESHOLD_: string };
