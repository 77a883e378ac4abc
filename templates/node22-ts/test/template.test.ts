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
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
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
    expect(dockerfile).toMatch(/^USER app$/m);
    expect(dockerfile).toMatch(/^RUN npm test$/m);
    expect(dockerfile).not.toContain('--if-present');
    expect(dockerfile).toContain('ENV UNIT_TEST_CONFIG=/home/app/vitest.unit.config.ts');
    expect(dockerfile).toMatch(/^HEALTHCHECK /m);
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
    cpSync(join(repoRoot, 'packages', 'core'), join(context, 'function', 'packages', 'core'), {
      recursive: true,
      filter: (src) => !src.includes('node_modules'),
    });
  });

  afterAll(async () => {
    await fn?.stop();
    rmSync(context, { recursive: true, force: true });
  });

  it('merges the runtime dependencies of the wrapper, the function and the workspace packages', () => {
    const manifest = writeManifest(context);
    const core = JSON.parse(readFileSync(join(repoRoot, 'packages', 'core', 'package.json'), 'utf8'));
    expect(manifest.dependencies).toMatchObject({ express: '^5.1.0', ...core.dependencies });
    expect(manifest.dependencies).not.toHaveProperty('@infralogs/core');
    expect(manifest.devDependencies).toHaveProperty('esbuild');
  });

  it('links the workspace packages, bundles them in and keeps npm packages external', async () => {
    expect(linkWorkspacePackages(context)).toEqual(['@infralogs/core']);
    expect(existsSync(join(context, 'node_modules', '@infralogs', 'core', 'src', 'index.ts'))).toBe(true);
    const out = await bundle(context);
    const js = readFileSync(out, 'utf8');
    expect(js).toMatch(/from "express"/);
    expect(js).not.toMatch(/from "@infralogs\/core"/);
    expect(js).toContain('bad probe');
  });

  it('produces a runtime folder whose index.js serves the handler', async () => {
    const runtime = writeRuntime(context);
    const pkg = JSON.parse(readFileSync(join(runtime, 'package.json'), 'utf8'));
    expect(pkg).toMatchObject({ type: 'module', dependencies: { express: '^5.1.0' } });
    expect(pkg).not.toHaveProperty('devDependencies');
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
  });
});
