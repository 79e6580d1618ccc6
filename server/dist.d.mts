export declare const DIST_ENTRIES: readonly string[];
export declare function distDir(root: string): string;
export declare function readManifest(root: string): { builtAt: string; inputs: Record<string, { size: number; mtimeMs: number; sha256: string }> } | null;
export declare function distStale(root: string): string | null;
export declare function distEntry(root: string, name: 'cli' | 'catalog-daemon' | 'codec-worker' | 'config'): string | null;
export declare function distFile(root: string, name: 'cli' | 'catalog-daemon' | 'codec-worker' | 'config'): string;
