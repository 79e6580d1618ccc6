// Worker bootstrap: load TypeScript through tsx, whatever context started the worker (CLI, tests, Next).
import { register } from 'tsx/esm/api';

register();
await import('./codec-worker.ts');
