import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

/**
 * Bundles the admin entry (vault/src/main.ts: bootstrap, agent tokens, migrate, partitions,
 * retention) into one ESM file for plain `node`, as the admin image runs it. CommonJS dependencies
 * (mysql2, node-vault) get a `require` through createRequire.
 * Run as a script: `npx tsx vault/build.ts [outfile]` (default vault/dist/admin.mjs).
 */
const here = dirname(fileURLToPath(import.meta.url));

export async function buildAdmin(outfile = resolve(here, 'dist/admin.mjs')): Promise<string> {
  await build({
    entryPoints: [resolve(here, 'src/main.ts')],
    outfile,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    sourcemap: true,
    logLevel: 'warning',
    banner: {
      js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);",
    },
  });
  return outfile;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  console.log(await buildAdmin(process.argv[2] ? resolve(process.argv[2]) : undefined));
}
