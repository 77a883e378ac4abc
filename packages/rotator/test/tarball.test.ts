import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { repoRoot, run } from '@infralogs/devkit';
import { setupEngine, type Engine } from './helpers';

const infra = inject('infra');
const packageDir = fileURLToPath(new URL('..', import.meta.url));

/**
 * What a stranger gets: `npm pack` of this package (its prepack compiles it), installed with plain
 * `npm install` into an empty folder outside the monorepo, and a TypeScript consumer that imports
 * only the published entry points, type-checked against the shipped .d.ts and run with node.
 */
describe('the npm package', () => {
  let engine: Engine;
  let work: string;
  let consumer: string;
  let tarball: string;
  beforeAll(async () => {
    engine = await setupEngine(infra, { ttl: '1m', maxTtl: '5m' });
    // The pack runs on a copy inside .work/, so the build does not rewrite the dist/ that other
    // test files are importing; .work/ is inside the repository so the copy finds typescript.
    await mkdir(join(repoRoot, '.work'), { recursive: true });
    work = await mkdtemp(join(repoRoot, '.work', 'rotator-pack-'));
    const copy = join(work, 'rotator');
    for (const f of ['package.json', 'tsconfig.build.json', 'README.md', 'CHANGELOG.md', 'src']) {
      await cp(join(packageDir, f), join(copy, f), { recursive: true });
    }
    const packed = await run('npm', ['pack', '--json', '--pack-destination', work], { cwd: copy });
    const [info] = JSON.parse(packed.stdout.slice(packed.stdout.indexOf('['))) as { filename: string }[];
    tarball = join(work, info!.filename);
    consumer = await mkdtemp(join(tmpdir(), 'rotator-consumer-'));
  }, 240_000);
  afterAll(async () => {
    await engine?.cleanup();
    if (work) await rm(work, { recursive: true, force: true });
    if (consumer) await rm(consumer, { recursive: true, force: true });
  });

  it('packs compiled ESM with declarations, a files list and no workspace-only dependencies', async () => {
    const list = (await run('tar', ['-tzf', tarball])).stdout.split('\n').filter(Boolean).sort();
    for (const entry of ['index', 'mysql', 'postgres', 'callback', 'core', 'cli', 'bin']) {
      expect(list).toContain(`package/dist/${entry}.js`);
      expect(list).toContain(`package/dist/${entry}.d.ts`);
    }
    expect(list).toEqual(
      expect.arrayContaining(['package/package.json', 'package/README.md', 'package/CHANGELOG.md']),
    );
    expect(list.filter((f) => !f.startsWith('package/dist/'))).toEqual([
      'package/CHANGELOG.md',
      'package/README.md',
      'package/package.json',
    ]);
    const manifest = JSON.parse((await run('tar', ['-xzOf', tarball, 'package/package.json'])).stdout) as {
      version: string;
      private?: boolean;
      exports: Record<string, unknown>;
      dependencies?: Record<string, string>;
      peerDependencies?: Record<string, string>;
    };
    expect(manifest.private).toBeUndefined();
    expect(manifest.version).toMatch(/^\d+\.\d+\.\d+$/);
    expect(await readFile(join(packageDir, 'CHANGELOG.md'), 'utf8')).toContain(`## ${manifest.version}`);
    expect(Object.keys(manifest.exports)).toEqual(expect.arrayContaining(['.', './mysql', './postgres']));
    const runtime = { ...manifest.dependencies, ...manifest.peerDependencies };
    expect(Object.keys(runtime).filter((d) => d.startsWith('@infralogs/'))).toEqual([]);
    expect(
      Object.values(runtime).filter((r) => r === '*' || r.startsWith('workspace:') || r.startsWith('file:')),
    ).toEqual([]);
  });

  it('installs outside the monorepo and works against OpenBao and MariaDB through its entry points', async () => {
    await writeFile(
      join(consumer, 'package.json'),
      JSON.stringify({ name: 'consumer', private: true, type: 'module' }, null, 2),
    );
    await run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', tarball, 'mysql2@^3'], {
      cwd: consumer,
    });
    await writeFile(
      join(consumer, 'consumer.ts'),
      `import { createMysqlRotator } from '@infralogs/vault-rotator/mysql';
import { silentLogger, VaultUnavailableError, type RotatorEvent } from '@infralogs/vault-rotator';

const [addr, token, credentialsPath, host, port, database] = process.argv.slice(2) as [string, string, string, string, string, string];
const events: RotatorEvent['type'][] = [];
const rotator = createMysqlRotator({
  vault: { addr, auth: { method: 'token', token } },
  credentialsPath,
  mysql: { host, port: Number(port), database, connectionLimit: 2 },
  logger: silentLogger,
  onEvent: (e) => events.push(e.type),
});
await rotator.start();
const [rows] = await rotator.query('SELECT CURRENT_USER() AS u');
const user = String(rows[0]?.u);
const lease = rotator.lease();
await rotator.stop();
// pg is an optional peer: not installed here, so only its adapter fails to load.
const pg = await import('@infralogs/vault-rotator/postgres').then(() => 'loaded', (e: { code?: string }) => e.code);
console.log(JSON.stringify({ user, username: lease?.username, events, typed: new VaultUnavailableError('x').code, pg }));
`,
    );
    await writeFile(
      join(consumer, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          strict: true,
          outDir: 'out',
          typeRoots: [join(repoRoot, 'node_modules/@types')],
          types: ['node'],
        },
        files: ['consumer.ts'],
      }),
    );
    // Type-checks against the shipped .d.ts (no skipLibCheck), then runs the emitted JS.
    await run(process.execPath, [join(repoRoot, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'], {
      cwd: consumer,
    });
    const p = infra.mysql.primary;
    const out = await run(
      process.execPath,
      [
        'out/consumer.js',
        infra.vault.addr,
        infra.vault.rootToken,
        engine.credentialsPath,
        p.host,
        String(p.port),
        engine.database,
      ],
      { cwd: consumer },
    );
    const result = JSON.parse(out.stdout) as {
      user: string;
      username: string;
      events: string[];
      typed: string;
      pg: string;
    };
    expect(result.user).toBe(`${result.username}@%`);
    expect(result.events).toEqual(
      expect.arrayContaining(['login', 'lease', 'rotated', 'drained', 'revoked']),
    );
    expect(result.typed).toBe('VAULT_UNAVAILABLE');
    expect(result.pg).toBe('ERR_MODULE_NOT_FOUND');
    // The bin is installed too.
    const help = await run(join(consumer, 'node_modules/.bin/vault-rotator'), ['--help'], { cwd: consumer });
    expect(help.stdout).toContain('usage: vault-rotator file');
  }, 240_000);
});
