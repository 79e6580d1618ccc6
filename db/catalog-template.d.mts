export declare function pgliteVersion(): string;
export declare function templateFile(root: string): string;
export declare function loadTemplate(root: string): Blob | null;
export declare function buildTemplate(root: string): Promise<{ file: string; bytes: number }>;
