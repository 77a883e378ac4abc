/**
 * A function as its image runs it: the node22-ts wrapper and the handler bundled by esbuild with
 * the image build's own options (templates/node22-ts/build.ts `bundleOptions`: workspace packages
 * compiled in, npm packages external), run by plain node. Under tsx each function process carried
 * the loader's thread, its transforms and source maps: about 60 MB of resident memory per function
 * that no pod has.
 *
 * The file is named by its content's hash, written under a temporary name and renamed, so stacks
 * starting at once (parallel tests) never see a half-written bundle or overwrite each other's.
 * It lives inside the repository (`.work/functions/`) because node resolves the external npm
 * packages from the bundle's folder upwards, to the repository's node_modules.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { bundleOptions } from '../../../templates/node22-ts/build';

const WRAPPER_DIR = fileURLToPath(new URL('../../../templates/node22-ts/', import.meta.url));

/** Bundles `handlerFile` with the wrapper into `outDir`; returns the bundle's path. */
export async function bundleFunction(name: string, handlerFile: string, outDir: string): Promise<string> {
  const result = await build({
    ...bundleOptions(WRAPPER_DIR, handlerFile, join(outDir, `${name}.mjs`)),
    write: false,
  });
  const code = result.outputFiles[0]!.contents;
  const hash = createHash('sha256').update(code).digest('hex').slice(0, 16);
  const file = join(outDir, `${name}-${hash}.mjs`);
  if (existsSync(file)) return file;
  await mkdir(outDir, { recursive: true });
  const partial = `${file}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`;
  await writeFile(partial, code);
  await rename(partial, file);
  await pruneOld(name, outDir, file);
  return file;
}

/** Bundles of a function's older sources stay a day (a running stack restarts from its file). */
const KEEP_MS = 24 * 3600_000;

async function pruneOld(name: string, outDir: string, keep: string) {
  const ours = new RegExp(`^${name.replace(/[^a-z0-9]/gi, '\\$&')}-[0-9a-f]{16}\\.mjs$`);
  for (const entry of await readdir(outDir)) {
    const path = join(outDir, entry);
    if (path === keep || !ours.test(entry)) continue;
    const age = Date.now() - (await stat(path).catch(() => ({ mtimeMs: Date.now() }))).mtimeMs;
    if (age > KEEP_MS) await rm(path, { force: true });
  }
}
