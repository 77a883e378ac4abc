import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleForNode } from '@infralogs/devkit';

/**
 * Bundles the admin entry (vault/src/main.ts: bootstrap, agent tokens, migrate, partitions,
 * retention) into one ESM file for plain `node`, as the admin image runs it.
 * Run as a script: `npx tsx vault/build.ts [outfile]` (default vault/dist/admin.mjs).
 */
const here = dirname(fileURLToPath(import.meta.url));

export function buildAdmin(outfile = resolve(here, 'dist/admin.mjs')): Promise<string> {
  return bundleForNode(resolve(here, 'src/main.ts'), outfile);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  console.log(await buildAdmin(process.argv[2] ? resolve(process.argv[2]) : undefined));
}
