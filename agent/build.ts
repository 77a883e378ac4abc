import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

/**
 * Bundles the agent into one ESM file for plain `node` (the Docker image and the benchmark run
 * it this way). CommonJS dependencies inside the bundle get a `require` through createRequire.
 * Run as a script: `npx tsx agent/build.ts [outfile]` (default agent/dist/agent.mjs).
 */
const here = dirname(fileURLToPath(import.meta.url));

export async function buildAgent(outfile = resolve(here, 'dist/agent.mjs')): Promise<string> {
  await build({
    entryPoints: [resolve(here, 'src/main.ts')],
    outfile,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    sourcemap: true,
    legalComments: 'none',
    logLevel: 'warning',
    banner: {
      js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
    },
  });
  return outfile;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  console.log(await buildAgent(process.argv[2] ? resolve(process.argv[2]) : undefined));
}
