/**
 * The image build for node22-ts, one step per command, run by the Dockerfile's build stage:
 *
 *   tsx build.ts manifest   package.json gains the dependencies of the function and of the workspace
 *                           packages shipped with it (stack.yml `configuration.copy: [./packages]`
 *                           puts them in function/packages/)
 *   tsx build.ts link       node_modules/@infralogs/* -> function/packages/*, what npm workspaces do in
 *                           the monorepo, so tsc, vitest and esbuild resolve them the same way
 *   tsx build.ts bundle     esbuild: wrapper + handler + workspace packages -> dist/index.js; npm
 *                           packages stay external and are installed in the runtime image
 *   tsx build.ts runtime    runtime/: index.js, a package.json with only the npm packages the bundle
 *                           imports (so no build tool a workspace package depends on, such as
 *                           devkit's esbuild, reaches the image), and the function's static/ folder
 *
 * This file imports nothing from the workspace: it runs before `link` has made that resolvable.
 */
import {
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { isBuiltin } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { BuildOptions } from 'esbuild';
import { findHandlerFile } from './handler-file';

interface Manifest {
  name?: string;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  [key: string]: unknown;
}

interface WorkspacePackage {
  name: string;
  dir: string;
  manifest: Manifest;
}

const readManifest = (file: string): Manifest => JSON.parse(readFileSync(file, 'utf8')) as Manifest;

/** The workspace packages shipped in function/packages/<dir>/package.json. */
export function workspacePackages(context: string): WorkspacePackage[] {
  const root = join(context, 'function', 'packages');
  if (!existsSync(root)) return [];
  return readdirSync(root, { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(join(root, d.name, 'package.json')))
    .map((d) => {
      const manifest = readManifest(join(root, d.name, 'package.json'));
      if (!manifest.name) throw new Error(`function/packages/${d.name}/package.json has no name`);
      return { name: manifest.name, dir: join(root, d.name), manifest };
    });
}

/**
 * Merges dependency maps. Workspace packages were tested together in the monorepo, so their ranges
 * win over the template's; two of them asking for different ranges is a build error to fix there.
 */
export function mergeDependencies(
  template: Record<string, string>,
  sources: { from: string; deps: Record<string, string> | undefined }[],
  internal: Set<string>,
): Record<string, string> {
  const merged: Record<string, string> = {};
  const owner: Record<string, string> = {};
  for (const { from, deps } of sources) {
    for (const [name, range] of Object.entries(deps ?? {})) {
      if (internal.has(name)) continue;
      if (merged[name] !== undefined && merged[name] !== range) {
        throw new Error(`${name} is wanted as ${merged[name]} by ${owner[name]} and as ${range} by ${from}`);
      }
      merged[name] = range;
      owner[name] = from;
    }
  }
  for (const [name, range] of Object.entries(template)) merged[name] ??= range;
  return Object.fromEntries(Object.entries(merged).sort(([a], [b]) => a.localeCompare(b)));
}

/** Step `manifest`: rewrites the context's package.json with the merged dependencies. */
export function writeManifest(context: string): Manifest {
  const template = readManifest(join(context, 'package.json'));
  const fn = readManifest(join(context, 'function', 'package.json'));
  const packages = workspacePackages(context);
  const internal = new Set(packages.map((p) => p.name));
  const runtime = [
    { from: 'function', deps: fn.dependencies },
    ...packages.map((p) => ({ from: p.name, deps: p.manifest.dependencies })),
  ];
  const manifest: Manifest = {
    ...template,
    dependencies: mergeDependencies(template.dependencies ?? {}, runtime, internal),
    devDependencies: mergeDependencies(
      template.devDependencies ?? {},
      [{ from: 'function', deps: fn.devDependencies }],
      internal,
    ),
  };
  writeFileSync(join(context, 'package.json'), JSON.stringify(manifest, null, 2) + '\n');
  return manifest;
}

/** Files a package's `exports` point at (every condition, every subpath). */
function exportTargets(exports: unknown): string[] {
  if (typeof exports === 'string') return [exports];
  if (!exports || typeof exports !== 'object') return [];
  return Object.values(exports).flatMap(exportTargets);
}

/**
 * Step `link`: node_modules/<package name> -> function/packages/<dir>, relative links. A package
 * whose `exports` point at files that are not there (a compiled dist/ not built before faas-cli
 * copied it) fails here, with the fix, rather than later in tsc or esbuild.
 */
export function linkWorkspacePackages(context: string): string[] {
  const names: string[] = [];
  for (const pkg of workspacePackages(context)) {
    const missing = exportTargets(pkg.manifest.exports).filter((t) => !existsSync(join(pkg.dir, t)));
    if (missing.length > 0) {
      throw new Error(
        `${pkg.name} exports ${missing.join(', ')}, which are missing: compile it before building ` +
          `(npm run setup compiles packages/rotator)`,
      );
    }
    const link = join(context, 'node_modules', ...pkg.name.split('/'));
    mkdirSync(dirname(link), { recursive: true });
    rmSync(link, { recursive: true, force: true });
    symlinkSync(relative(dirname(link), pkg.dir), link, 'dir');
    names.push(pkg.name);
  }
  return names;
}

/**
 * What esbuild needs to bundle the wrapper (`index.ts` in `wrapperDir`) with one handler into one
 * ESM file: workspace packages compiled in, npm packages left external. The image's `bundle` step
 * and the local gateway (local/src/gateway/function-bundle.ts) build functions with these options.
 */
export function bundleOptions(wrapperDir: string, handlerFile: string, outfile: string): BuildOptions {
  const handler = relative(wrapperDir, handlerFile).replaceAll('\\', '/');
  const entry = [
    `import { main } from './index';`,
    // Imported by main, after the wrapper's settings are checked, so a handler whose module
    // validates its own settings on import fails through the same JSON line.
    `const load = () => import(${JSON.stringify(handler.startsWith('.') ? handler : './' + handler)}).then((m) => m.default);`,
    `main({ load }).catch((err) => { console.error(JSON.stringify({ level: 'error', event: 'wrapper.failed', message: String(err && err.message) })); process.exit(1); });`,
  ].join('\n');
  return {
    stdin: { contents: entry, resolveDir: wrapperDir, sourcefile: 'entry.ts', loader: 'ts' },
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    outfile,
    logLevel: 'warning',
    plugins: [
      {
        // npm packages are installed in the runtime image; workspace packages are TypeScript and
        // exist only in this build context, so they are compiled in.
        name: 'external-npm-packages',
        setup(b) {
          b.onResolve({ filter: /^[^./]/ }, (args) =>
            args.path.startsWith('@infralogs/') ? undefined : { path: args.path, external: true },
          );
        },
      },
    ],
  };
}

/** Step `bundle`: one ESM file that starts the wrapper with the function's handler. */
export async function bundle(context: string, outfile = join(context, 'dist', 'index.js')) {
  const { build } = await import('esbuild');
  const handlerFile = findHandlerFile(join(context, 'function'));
  const result = await build({ ...bundleOptions(context, handlerFile, outfile), metafile: true });
  // The npm packages the bundle still imports: exactly what the runtime image must install.
  const imports = Object.values(result.metafile.outputs).flatMap((o) => o.imports);
  const packages = imports
    .filter((i) => i.external && !isBuiltin(i.path))
    .map((i) =>
      i.path
        .split('/')
        .slice(0, i.path.startsWith('@') ? 2 : 1)
        .join('/'),
    );
  writeFileSync(
    join(dirname(outfile), 'externals.json'),
    JSON.stringify([...new Set(packages)].sort(), null, 2) + '\n',
  );
  return outfile;
}

/** Step `runtime`: what the runtime stage copies (then `npm install --omit=dev` there). */
export function writeRuntime(context: string, out = join(context, 'runtime')) {
  const manifest = readManifest(join(context, 'package.json'));
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  cpSync(join(context, 'dist', 'index.js'), join(out, 'index.js'));
  const externals = JSON.parse(readFileSync(join(context, 'dist', 'externals.json'), 'utf8')) as string[];
  const declared = manifest.dependencies ?? {};
  const missing = externals.filter((name) => declared[name] === undefined);
  if (missing.length > 0) {
    throw new Error(`the bundle imports ${missing.join(', ')}, which no package.json lists as a dependency`);
  }
  const runtime = {
    name: 'function-runtime',
    private: true,
    type: 'module',
    dependencies: Object.fromEntries(externals.map((name) => [name, declared[name]!])),
  };
  writeFileSync(join(out, 'package.json'), JSON.stringify(runtime, null, 2) + '\n');
  const statics = join(context, 'function', 'static');
  if (existsSync(statics)) cpSync(statics, join(out, 'function', 'static'), { recursive: true });
  return out;
}

async function cli(step: string | undefined, context = process.cwd()) {
  switch (step) {
    case 'manifest':
      return console.log(JSON.stringify(writeManifest(context).dependencies));
    case 'link':
      return console.log(`linked ${linkWorkspacePackages(context).join(', ') || 'nothing'}`);
    case 'bundle':
      return console.log(`bundled ${await bundle(context)}`);
    case 'runtime':
      return console.log(`runtime in ${writeRuntime(context)}`);
    default:
      throw new Error(`usage: tsx build.ts manifest|link|bundle|runtime (got ${step ?? 'nothing'})`);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  cli(process.argv[2]).catch((err: unknown) => {
    console.error(`build.ts: ${(err as Error).message}`);
    process.exit(1);
  });
}
