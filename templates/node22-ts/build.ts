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
 *   tsx build.ts runtime    runtime/: index.js, a package.json with the runtime dependencies only,
 *                           and the function's static/ folder if it has one
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
import { dirname, join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
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

/** Step `link`: node_modules/<package name> -> function/packages/<dir>, relative links. */
export function linkWorkspacePackages(context: string): string[] {
  const names: string[] = [];
  for (const pkg of workspacePackages(context)) {
    const link = join(context, 'node_modules', ...pkg.name.split('/'));
    mkdirSync(dirname(link), { recursive: true });
    rmSync(link, { recursive: true, force: true });
    symlinkSync(relative(dirname(link), pkg.dir), link, 'dir');
    names.push(pkg.name);
  }
  return names;
}

/** Step `bundle`: one ESM file that starts the wrapper with the function's handler. */
export async function bundle(context: string, outfile = join(context, 'dist', 'index.js')) {
  const { build } = await import('esbuild');
  const handlerFile = findHandlerFile(join(context, 'function'));
  const entry = [
    `import { main } from './index';`,
    // Imported by main, after the wrapper's settings are checked, so a handler whose module
    // validates its own settings on import fails through the same JSON line.
    `const load = () => import(${JSON.stringify('./' + relative(context, handlerFile).replaceAll('\\', '/'))}).then((m) => m.default);`,
    `main({ load }).catch((err) => { console.error(JSON.stringify({ level: 'error', event: 'wrapper.failed', message: String(err && err.message) })); process.exit(1); });`,
  ].join('\n');
  await build({
    stdin: { contents: entry, resolveDir: context, sourcefile: 'entry.ts', loader: 'ts' },
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node22',
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
  });
  return outfile;
}

/** Step `runtime`: what the runtime stage copies (then `npm install --omit=dev` there). */
export function writeRuntime(context: string, out = join(context, 'runtime')) {
  const manifest = readManifest(join(context, 'package.json'));
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  cpSync(join(context, 'dist', 'index.js'), join(out, 'index.js'));
  const runtime = {
    name: 'function-runtime',
    private: true,
    type: 'module',
    dependencies: manifest.dependencies ?? {},
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
