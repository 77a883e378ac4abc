import { execFile } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify, stripVTControlCharacters } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { freePort, startProcess, waitFor, type Managed } from '@infralogs/devkit';
import { bundle, linkWorkspacePackages, mergeDependencies, writeManifest, writeRuntime } from '../build';
import { WATCHDOG_DEFAULTS } from '../watchdog';

const templateDir = fileURLToPath(new URL('..', import.meta.url));
const repoRoot = join(templateDir, '..', '..');
const dockerfile = readFileSync(join(templateDir, 'Dockerfile'), 'utf8');

describe('node22-ts packaging', () => {
  it('template.yml names the language and the process of-watchdog starts', () => {
    const yml = parse(readFileSync(join(templateDir, 'template.yml'), 'utf8')) as Record<string, string>;
    expect(yml.language).toBe('node22-ts');
    expect(yml.fprocess).toBe('node index.js');
    expect(dockerfile).toContain(`ENV fprocess="${yml.fprocess}"`);
  });

  it('pins of-watchdog and runs it in http mode in front of the wrapper', () => {
    expect(dockerfile).toMatch(/ghcr\.io\/openfaas\/of-watchdog:\d+\.\d+\.\d+ AS watchdog/);
    expect(dockerfile).toContain('ENV mode="http"');
    expect(dockerfile).toContain('ENV upstream_url="http://127.0.0.1:3000"');
    expect(dockerfile).toMatch(/^USER 10003$/m);
    expect(dockerfile).toMatch(/^RUN npm test$/m);
    expect(dockerfile).not.toContain('--if-present');
    expect(dockerfile).toContain('ENV UNIT_TEST_CONFIG=/home/app/vitest.unit.config.ts');
    expect(dockerfile).toMatch(/^HEALTHCHECK /m);
  });

  it('ships only the runtime folder from the build stage (no build tools in the image)', () => {
    const ship = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
    expect(ship.match(/^COPY --from=build .*$/gm)).toEqual([
      'COPY --from=build --chown=10003:10003 /home/app/runtime/ ./',
    ]);
    expect(ship).not.toMatch(/npm (install|ci)|esbuild|tsx/);
  });

  it('keeps the watchdog defaults the local gateway uses in step with the Dockerfile', () => {
    for (const [name, value] of Object.entries(WATCHDOG_DEFAULTS)) {
      expect(dockerfile).toContain(`ENV ${name}="${value}"`);
    }
  });

  it('lets workspace ranges win over the template and refuses two workspace ranges for one package', () => {
    const internal = new Set(['@infralogs/core']);
    expect(
      mergeDependencies(
        { express: '^5.1.0', zod: '^4.0.0' },
        [
          { from: 'function', deps: { got: '^14.0.0', '@infralogs/core': '*' } },
          { from: '@infralogs/core', deps: { zod: '^4.6.7' } },
        ],
        internal,
      ),
    ).toEqual({ express: '^5.1.0', got: '^14.0.0', zod: '^4.6.7' });
    expect(() =>
      mergeDependencies(
        {},
        [
          { from: 'a', deps: { mysql2: '^3.0.0' } },
          { from: 'b', deps: { mysql2: '^2.0.0' } },
        ],
        internal,
      ),
    ).toThrow(/mysql2 is wanted as \^3\.0\.0 by a and as \^2\.0\.0 by b/);
  });
});

describe('node22-ts image build steps (without Docker)', () => {
  // Inside the repository, so the bundle's external npm imports resolve from its node_modules, as
  // they resolve from the runtime image's own node_modules.
  let context: string;
  let fn: Managed | undefined;

  beforeAll(() => {
    mkdirSync(join(repoRoot, '.work'), { recursive: true });
    context = mkdtempSync(join(repoRoot, '.work', 'node22-ts-build-'));
    // What faas-cli assembles: the template, the handler in function/, `configuration.copy` paths.
    for (const file of [
      'package.json',
      'tsconfig.json',
      'index.ts',
      'handler-file.ts',
      'watchdog.ts',
      'duration.ts',
      'build.ts',
    ]) {
      cpSync(join(templateDir, file), join(context, file));
    }
    mkdirSync(join(context, 'function', 'src'), { recursive: true });
    writeFileSync(
      join(context, 'function', 'package.json'),
      JSON.stringify({
        name: '@infralogs/fn-probe',
        type: 'module',
        dependencies: { '@infralogs/core': '*' },
      }),
    );
    writeFileSync(
      join(context, 'function', 'src', 'handler.ts'),
      [
        `import { InfralogsError, type Handler } from '@infralogs/core';`,
        // As a function's deps do: its settings are checked when the module is imported.
        `if (process.env.PROBE_SETTING === 'bad') throw new InfralogsError('CONFIG_INVALID', 'PROBE_SETTING: bad');`,
        `const handler: Handler = async (event) => {`,
        `  if (event.path === '/bad') throw new InfralogsError('BAD_REQUEST', 'bad probe');`,
        `  return { bundled: true, got: event.body ?? null };`,
        `};`,
        `export default handler;`,
      ].join('\n'),
    );
    mkdirSync(join(context, 'function', 'static'));
    writeFileSync(join(context, 'function', 'static', 'page.html'), '<p>static</p>');
    // All of packages/, as `configuration.copy: [./packages]` ships it: devkit too, with esbuild.
    for (const dir of readdirSync(join(repoRoot, 'packages'))) {
      cpSync(join(repoRoot, 'packages', dir), join(context, 'function', 'packages', dir), {
        recursive: true,
        filter: (src) => !src.includes('node_modules'),
      });
    }
  });

  afterAll(async () => {
    await fn?.stop();
    rmSync(context, { recursive: true, force: true });
  });

  it('merges the runtime dependencies of the wrapper, the function and the workspace packages', () => {
    const manifest = writeManifest(context);
    const core = JSON.parse(readFileSync(join(repoRoot, 'packages', 'core', 'package.json'), 'utf8'));
    const npmDeps = Object.fromEntries(
      Object.entries(core.dependencies as Record<string, string>).filter(
        ([n]) => !n.startsWith('@infralogs/'),
      ),
    );
    expect(manifest.dependencies).toMatchObject({ express: '^5.1.0', ...npmDeps });
    expect(manifest.dependencies).not.toHaveProperty('@infralogs/core');
    expect(manifest.devDependencies).toHaveProperty('esbuild');
  });

  it('links the workspace packages, bundles them in and keeps npm packages external', async () => {
    expect(linkWorkspacePackages(context)).toEqual(
      expect.arrayContaining(['@infralogs/core', '@infralogs/devkit']),
    );
    expect(existsSync(join(context, 'node_modules', '@infralogs', 'core', 'src', 'index.ts'))).toBe(true);
    const out = await bundle(context);
    const js = readFileSync(out, 'utf8');
    expect(js).toMatch(/from "express"/);
    expect(js).not.toMatch(/from "@infralogs\/core"/);
    expect(js).toContain('bad probe');
  });

  it('refuses to link a package whose compiled exports were not built', () => {
    const other = mkdtempSync(join(tmpdir(), 'node22-ts-link-'));
    try {
      const pkg = join(other, 'function', 'packages', 'compiled');
      mkdirSync(pkg, { recursive: true });
      const exports = { '.': { types: './dist/index.d.ts', import: './dist/index.js' } };
      writeFileSync(join(pkg, 'package.json'), JSON.stringify({ name: '@infralogs/compiled', exports }));
      expect(() => linkWorkspacePackages(other)).toThrow(
        /dist\/index\.d\.ts, \.\/dist\/index\.js, which are missing/,
      );
      mkdirSync(join(pkg, 'dist'));
      writeFileSync(join(pkg, 'dist', 'index.js'), '');
      writeFileSync(join(pkg, 'dist', 'index.d.ts'), '');
      expect(linkWorkspacePackages(other)).toEqual(['@infralogs/compiled']);
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
  });

  it('produces a runtime folder whose index.js serves the handler', async () => {
    const runtime = writeRuntime(context);
    const pkg = JSON.parse(readFileSync(join(runtime, 'package.json'), 'utf8'));
    expect(pkg).toMatchObject({ type: 'module', dependencies: { express: '^5.1.0' } });
    expect(pkg).not.toHaveProperty('devDependencies');
    // Only what the bundle imports: devkit (shipped in function/packages) and its esbuild are not.
    const imported = JSON.parse(readFileSync(join(context, 'dist', 'externals.json'), 'utf8'));
    expect(Object.keys(pkg.dependencies).sort()).toEqual(imported);
    expect(pkg.dependencies).not.toHaveProperty('esbuild');
    expect(readFileSync(join(context, 'package.json'), 'utf8')).toContain('"esbuild"');
    expect(readFileSync(join(runtime, 'function', 'static', 'page.html'), 'utf8')).toBe('<p>static</p>');

    const port = await freePort();
    fn = startProcess(process.execPath, [join(runtime, 'index.js')], {
      cwd: runtime,
      env: { PATH: process.env.PATH, http_port: String(port) },
    });
    const url = `http://127.0.0.1:${port}`;
    await waitFor('the bundled wrapper', async () => (await fetch(`${url}/`)).ok, 20_000);
    const res = await fetch(`${url}/x`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"n":1}',
    });
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await res.json()).toEqual({ bundled: true, got: { n: 1 } });
    const bad = await fetch(`${url}/bad`);
    expect(bad.status).toBe(400);
    expect(await bad.json()).toEqual({ error: { code: 'BAD_REQUEST', message: 'bad probe' } });
  });

  it.each([
    ['the wrapper', { LOG_LEVEL: 'loud' }, 'LOG_LEVEL'],
    ['the bundled handler', { PROBE_SETTING: 'bad' }, 'PROBE_SETTING'],
  ])(
    'whose index.js exits at start, in one JSON line, when %s finds a bad setting',
    async (_who, bad, name) => {
      const runtime = join(context, 'runtime');
      const port = await freePort();
      const proc = startProcess(process.execPath, [join(runtime, 'index.js')], {
        cwd: runtime,
        env: { PATH: process.env.PATH, http_port: String(port), ...bad },
      });
      try {
        expect(await proc.exited).toBe(1);
        const line = proc
          .output()
          .split('\n')
          .find((l) => l.includes('wrapper.failed'));
        expect(JSON.parse(line ?? '{}')).toMatchObject({
          event: 'wrapper.failed',
          message: expect.stringContaining(name),
        });
      } finally {
        await proc.stop('SIGKILL');
      }
    },
  );
});

describe("the functions' npm test as the image build runs it (no Docker, no database)", () => {
  const stack = parse(readFileSync(join(repoRoot, 'stack.yml'), 'utf8')) as {
    functions: Record<string, { lang: string; handler: string }>;
  };
  const functions = Object.entries(stack.functions).filter(([, fn]) => fn.lang === 'node22-ts');
  const contexts: string[] = [];
  afterAll(() => {
    for (const c of contexts) rmSync(c, { recursive: true, force: true });
  });
  const withoutNodeModules = (src: string) => !src.split(/[\\/]/).includes('node_modules');

  it.each(functions)('%s', async (name, fn) => {
    mkdirSync(join(repoRoot, '.work'), { recursive: true });
    const context = mkdtempSync(join(repoRoot, '.work', `node22-ts-test-${name}-`));
    contexts.push(context);
    // The build context as faas-cli assembles it and the Dockerfile copies it: the template's
    // package.json and *.ts, the handler folder as function/, `configuration.copy` in function/.
    for (const file of readdirSync(templateDir).filter((f) => f.endsWith('.ts') || f === 'package.json')) {
      cpSync(join(templateDir, file), join(context, file));
    }
    cpSync(join(repoRoot, fn.handler), join(context, 'function'), {
      recursive: true,
      filter: withoutNodeModules,
    });
    cpSync(join(repoRoot, 'packages'), join(context, 'function', 'packages'), {
      recursive: true,
      filter: withoutNodeModules,
    });
    linkWorkspacePackages(context);
    // Inside the repository, npm packages resolve from its node_modules as they do from the image's.
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('VITEST')));
    const run = await promisify(execFile)('npm', ['test'], {
      cwd: join(context, 'function'),
      env: { ...env, UNIT_TEST_CONFIG: join(context, 'vitest.unit.config.ts') },
      timeout: 120_000,
    }).catch((err: { code?: number; stdout?: string; stderr?: string }) => {
      throw new Error(`npm test of ${name} failed (${err.code}):\n${err.stdout}\n${err.stderr}`);
    });
    expect(run.stdout).toMatch(/^> .* test$/m);
    // Unit tests ran (vitest), not only a type check; vitest colours its summary under npm test.
    expect(stripVTControlCharacters(run.stdout)).toMatch(/Tests\s+\d+ passed/);
  });
});
