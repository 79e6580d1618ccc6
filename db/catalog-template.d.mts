export declare function pgliteVersion(): string;
export declare function templateFile(root: string): string;
export declare function buildTemplate(root: string): Promise<{ file: string; bytes: number }>;
export declare function unpackTemplate(root: string, dir: string): Promise<boolean>;
export declare function extractTar(stream: AsyncIterable<Buffer>, dest: string): Promise<string[]>;
