import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { waitFor } from '@infralogs/devkit';
import { fileSink } from '../src';
import { connectError, setupEngine, type Engine } from './helpers';

const infra = inject('infra');
const bin = fileURLToPath(new URL('../src/bin.ts', import.meta.url));
const repoRoot = fileURLToPath(new URL('../../..', import.meta.url));

describe('file sink', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rotator-file-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('writes mode 0600 atomically, and gives the file its previous credentials back when the reload fails', async () => {
    const file = join(dir, 'unit.json');
    const lease = (id: string) => ({
      leaseId: id,
      username: `u-${id}`,
      expiresAt: Infinity,
      renewable: true,
    });
    const ok = fileSink({ file, command: 'test -s "$CREDENTIALS_FILE"' });
    await ok({ username: 'u-1', password: 'p1' }, lease('1'));
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(JSON.parse(await readFile(file, 'utf8'))).toMatchObject({ username: 'u-1', lease_id: '1' });

    const failing = fileSink({ file, command: 'exit 3' });
    await expect(failing({ username: 'u-0', password: 'p0' }, lease('0'))).rejects.toThrow(/status 3/);
    await expect(stat(file)).rejects.toThrow(/ENOENT/); // nothing confirmed yet: no file
    const sink = fileSink({ file, command: '[ ! -e "$CREDENTIALS_FILE.fail" ]' });
    await sink({ username: 'u-1', password: 'p1' }, lease('1'));
    await writeFile(`${file}.fail`, '');
    await expect(sink({ username: 'u-2', password: 'p2' }, lease('2'))).rejects.toThrow(/status 1/);
    expect(JSON.parse(await readFile(file, 'utf8'))).toMatchObject({ username: 'u-1', password: 'p1' });
    expect((await readdir(dir)).sort()).toEqual(['unit.json', 'unit.json.fail']); // no temporary files left
  });

  it('sends the signal to the consumer after writing the file', async () => {
    const file = join(dir, 'signal.json');
    // The consumer: a shell that, on SIGHUP, prints the user it finds in the file and exits.
    const consumer = spawn(
      '/bin/sh',
      ['-c', `trap 'cat "${file}"; exit 0' HUP; echo ready; while :; do sleep 0.05; done`],
      {
        stdio: ['ignore', 'pipe', 'ignore'],
      },
    );
    let out = '';
    consumer.stdout.on('data', (c: Buffer) => (out += c.toString()));
    const exited = new Promise<number | null>((resolve) => consumer.on('exit', resolve));
    try {
      await waitFor('the consumer to install its trap', async () => out === 'ready\n', 5000);
      out = '';
      const sink = fileSink({ file, signal: { name: 'SIGHUP', pid: () => consumer.pid! } });
      const lease = { leaseId: 'l1', username: 'u-sig', expiresAt: Infinity, renewable: true };
      await sink({ username: 'u-sig', password: 'p' }, lease);
      expect(await exited).toBe(0);
      expect(JSON.parse(out)).toMatchObject({ username: 'u-sig', lease_id: 'l1' });
    } finally {
      consumer.kill('SIGKILL');
    }
  });

  describe('the CLI against OpenBao and MariaDB', () => {
    let engine: Engine;
    beforeAll(async () => {
      // max_ttl 4 s: a new lease about every 3 s.
      engine = await setupEngine(infra, { ttl: '2s', maxTtl: '4s' });
    });
    afterAll(() => engine?.cleanup());

    it('keeps the file fresh, runs the reload command, and revokes a lease only after the reload of its successor', async () => {
      const file = join(dir, 'db.env');
      const failFlag = join(dir, 'fail');
      const p = infra.mysql.primary;
      // The consumer: a shell script that reads the env file and logs in with the mariadb client.
      const reload = join(dir, 'reload.sh');
      await writeFile(
        reload,
        `#!/bin/sh
if [ -e "${failFlag}" ]; then echo "reload-failed $LEASE_ID" >&2; exit 1; fi
. "$CREDENTIALS_FILE"
MYSQL_PWD="$DB_PASSWORD" mariadb --protocol=tcp -h ${p.host} -P ${p.port} -u "$DB_USERNAME" -e 'SELECT 1' >/dev/null || exit 1
echo "reload-ok $LEASE_ID" >&2
`,
        { mode: 0o700 },
      );
      const child = spawn(
        process.execPath,
        [
          '--import',
          'tsx',
          bin,
          'file',
          '--credentials-path',
          engine.credentialsPath,
          '--file',
          file,
          '--format',
          'env',
          '--exec',
          reload,
        ],
        {
          cwd: repoRoot,
          env: { ...process.env, VAULT_ADDR: infra.vault.addr, VAULT_TOKEN: infra.vault.rootToken },
          stdio: ['ignore', 'ignore', 'pipe'],
        },
      );
      const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
      let stderr = '';
      let env: Record<string, string> = {};
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      const lines = () => stderr.split('\n').filter(Boolean);
      const count = (prefix: string) => lines().filter((l) => l.startsWith(prefix)).length;
      const events = () =>
        lines()
          .filter((l) => l.startsWith('{'))
          .map((l) => JSON.parse(l) as { event: string; leaseId?: string; previousLeaseId?: string });
      try {
        await waitFor(
          'the CLI to be ready',
          async () => events().some((e) => e.event === 'rotator.ready'),
          30_000,
        );
        expect((await stat(file)).mode & 0o777).toBe(0o600);
        const first = await readFile(file, 'utf8');
        expect(first).toMatch(/^DB_USERNAME='v-/m);

        await waitFor(
          'two rotations confirmed by the command',
          async () => count('reload-ok') >= 3,
          30_000,
        ).catch((err: unknown) => {
          console.error(stderr);
          throw err;
        });
        await writeFile(failFlag, '');
        await waitFor('a reload to fail', async () => count('reload-failed') >= 1, 30_000);
        await rm(failFlag);
        const okBefore = count('reload-ok');
        await waitFor('a reload to succeed again', async () => count('reload-ok') > okBefore, 30_000);
        // The file holds working credentials: log in with them the way the consumer does.
        env = Object.fromEntries(
          (await readFile(file, 'utf8'))
            .trim()
            .split('\n')
            .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 2, -1)]),
        );
        expect(await connectError(infra, 'primary', env.DB_USERNAME!, env.DB_PASSWORD!)).toBeUndefined();
      } finally {
        child.kill('SIGTERM');
        expect(await exited).toBe(0);
      }
      const log = lines();
      expect(stderr).not.toContain(infra.vault.rootToken);
      // No stray temporary files, and the file is gone with its revoked lease.
      expect((await readdir(dir)).filter((f) => f.startsWith('.db.env'))).toEqual([]);
      await expect(stat(file)).rejects.toThrow(/ENOENT/);
      // Ordering, read from one stream (the command writes to the CLI's stderr): every revoked
      // lease was either rejected by the command, or replaced by a lease whose reload exited 0
      // before, or the last one (revoked on stop).
      const confirmed = new Set<string>();
      const rejected = new Set<string>();
      const successorOf = new Map<string, string>();
      const events2 = log.map((l) =>
        l.startsWith('{')
          ? (JSON.parse(l) as { event: string; leaseId?: string; previousLeaseId?: string })
          : l,
      );
      let revokedAfterStop = 0;
      let stopping = false;
      for (const e of events2) {
        if (typeof e === 'string') {
          const [what, lease] = e.split(' ');
          if (what === 'reload-ok') confirmed.add(lease!);
          if (what === 'reload-failed') rejected.add(lease!);
          continue;
        }
        if (e.event === 'rotator.stopping') stopping = true;
        if (e.event === 'rotator.rotated' && e.previousLeaseId)
          successorOf.set(e.previousLeaseId, e.leaseId!);
        if (e.event === 'rotator.revoked') {
          const lease = e.leaseId!;
          if (stopping) revokedAfterStop += 1;
          else if (!rejected.has(lease))
            expect([lease, confirmed.has(successorOf.get(lease) ?? '')]).toEqual([lease, true]);
        }
      }
      expect(rejected.size).toBeGreaterThanOrEqual(1);
      expect(confirmed.size).toBeGreaterThanOrEqual(4);
      expect(revokedAfterStop).toBe(1);
      // Revoked on stop at the latest: the credentials last read from the file no longer log in.
      expect(stderr).not.toContain(env.DB_PASSWORD);
      expect((await connectError(infra, 'primary', env.DB_USERNAME!, env.DB_PASSWORD!))?.errno).toBe(1045);
    }, 90_000);
  });
});
