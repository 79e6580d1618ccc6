/** Types of help.mjs (plain JavaScript so that --help needs no TypeScript loader). */
export declare const USER_HELP: string;
export declare const DRILL_HELP: string;
export declare const HELP: string;
