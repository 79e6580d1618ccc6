/**
 * Creates the empty, migrated catalog of a new installation, with nothing in it, and leaves its server
 * running: what the rebuild and list benchmarks start from (`list` no longer creates an installation, and
 * `backup` or `user add` would put rows in it). Run with the installation's environment:
 *
 *   node --import tsx bench/empty-catalog.ts
 */
import { openCatalog } from '../db/client';
import { loadConfig } from '../server/config';

const config = loadConfig(process.env);
const catalog = await openCatalog({ dataDir: config.data_dir });
await catalog.close();
