import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log';
import { main as cli } from '../../src/store/cli';
import { listPartitions } from '../../src/store/partitions';
import { freshStore } from '@infralogs/devkit/fixtures';

let store: Awaited<ReturnType<typeof freshStore>>;
let dir: string;
const saved = { ...process.env };
const lines: string[] = [];
const main = (argv: string[]) => cli(argv, createLogger({}, { write: (l) => lines.push(l) }));

beforeAll(async () => {
  store = await freshStore({ migrate: false });
  dir = await mkdtemp(join(tmpdir(), 'store-cli-'));
  await writeFile(join(dir, 'password'), `${store.infra.mysql.admin.password}\n`, { mode: 0o600 });
  Object.assign(process.env, {
    DB_HOST: store.infra.mysql.primary.host,
    DB_PORT: String(store.infra.mysql.primary.port),
    DB_NAME: store.name,
    DB_USER: store.infra.mysql.admin.user,
    DB_PASSWORD_FILE: join(dir, 'password'),
  });
});
afterAll(async () => {
  process.env = saved;
  await rm(dir, { recursive: true, force: true });
  await store?.drop();
});

describe('store CLI', () => {
  it('migrates, adds partitions and applies retention against the configured database', async () => {
    expect(await main(['migrate'])).toBe(0);
    expect(await listPartitions(store.pool)).toContain('pmax');
    expect(await main(['partitions', '--days-ahead', '10'])).toBe(0);
    const days = (await listPartitions(store.pool)).filter((p) => p !== 'pmax');
    expect(days.length).toBe(18);
    expect(await main(['retention', '--days', '3'])).toBe(0);
    expect((await listPartitions(store.pool)).filter((p) => p !== 'pmax').length).toBe(14);
  });

  it('fails with status 1 on bad usage or a missing password file', async () => {
    expect(await main([])).toBe(1);
    expect(await main(['retention'])).toBe(1);
    process.env.DB_PASSWORD_FILE = join(dir, 'missing');
    expect(await main(['migrate'])).toBe(1);
    expect(lines.at(-1)).toContain('"code":"CONFIG_INVALID"');
    expect(lines.join('\n')).not.toContain(store.infra.mysql.admin.password);
  });

  it('takes the credentials from a Vault-agent lease file (DB_CREDENTIALS_FILE) instead', async () => {
    const { admin } = store.infra.mysql;
    const leaseFile = join(dir, 'db.json');
    await writeFile(leaseFile, JSON.stringify({ username: admin.user, password: admin.password }), {
      mode: 0o600,
    });
    delete process.env.DB_PASSWORD_FILE;
    process.env.DB_USER = 'nobody';
    process.env.DB_CREDENTIALS_FILE = leaseFile;
    expect(await main(['migrate'])).toBe(0);
    await writeFile(leaseFile, '{"username":"x"}');
    expect(await main(['migrate'])).toBe(1);
    expect(lines.at(-1)).toContain('DB_CREDENTIALS_FILE must hold JSON');
    expect(lines.join('\n')).not.toContain(admin.password);
  });
});
