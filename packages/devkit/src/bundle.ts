import { build, type Plugin } from 'esbuild';

/**
 * Bundles one entry into a single ESM file for plain `node` (what the agent and admin images run).
 * CommonJS dependencies inside the bundle (mysql2, node-vault) get a `require` through createRequire.
 */
export async function bundleForNode(entry: string, outfile: string, plugins: Plugin[] = []): Promise<string> {
  await build({
    entryPoints: [entry],
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
    plugins,
  });
  return outfile;
}
