#!/usr/bin/env node
// Makes dist/catalog-template/pglite-<version>.tar.gz (db/catalog-template.mjs) unless it exists: run by npm's
// `prepare` after build-dist.mjs. A failure is said and is not fatal: catalogs are then created by initdb.
//   node scripts/build-catalog-template.mjs [--force]
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildTemplate, templateFile } from '../db/catalog-template.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
if (existsSync(templateFile(root)) && !process.argv.includes('--force')) {
  console.log(`[catalog-template] ${path.relative(root, templateFile(root))} is there`);
} else {
  const started = Date.now();
  try {
    const { file, bytes } = await buildTemplate(root);
    console.log(`[catalog-template] made ${path.relative(root, file)} (${(bytes / 1048576).toFixed(1)} MiB) in ${Date.now() - started} ms`);
  } catch (err) {
    console.error(`[catalog-template] not made (new catalogs will run initdb): ${err.message}`);
  }
}
