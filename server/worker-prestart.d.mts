import type { Worker } from 'node:worker_threads';
export declare function codecThreadCount(): number;
export declare function prestartWorkers(entry: string, count: number): Worker[];
export declare function takePrestarted(entry: string): Worker | null;
