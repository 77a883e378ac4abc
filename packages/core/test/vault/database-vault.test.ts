import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { adminConnection, waitForReplica } from '@infralogs/devkit';
import { writeAppRoleSecrets } from '@infralogs/vault';
import { bootstrapForTest, type Bootstrapped } from '@infralogs/devkit/fixtures';
import {
  closeVaultSessions,
  connectDatabase,
  lazyDatabase,
  Metrics,
  readAgentToken,
  vaultConfigFromEnv,
} from '../../src';

const infra = inject('infra');

describe('connectDatabase and readAgentToken with Vault', () => {
  let b: Bootstrapped;
  let dir: string;
  const env = (role: 'writer' | 'reader', over: Record<string, string> = {}) => ({
    VAULT_ADDR: infra.vault.addr,
    VAULT_AUTH: 'approle',
    VAULT_APPROLE_MOUNT: b.result.mounts.approle,
    VAULT_KV_MOUNT: b.result.mounts.kv,
    VAULT_DB_MOUNT: b.result.mounts.database,
    VAULT_DB_ROLE: b.result.roles[role],
    SECRETS_DIR: join(dir, role),
    DB_HOST: infra.mysql[role === 'writer' ? 'primary' : 'replica'].host,
    DB_PORT: String(infra.mysql[role === 'writer' ? 'primary' : 'replica'].port),
    DB_NAME: b.database,
    LOG_LEVEL: 'error',
    ...over,
  });
  beforeAll(async () => {
    b = await bootstrapForTest(infra);
    dir = await mkdtemp(join(tmpdir(), 'core-vault-'));
    for (const role of ['writer', 'reader'] as const) {
      await writeAppRoleSecrets({ vault: b.root, result: b.result, role, dir: join(dir, role) });
    }
    await waitForReplica(infra);
  });
  afterAll(async () => {
    await closeVaultSessions();
    await b?.cleanup();
    await rm(dir, { recursive: true, force: true });
  });

  it('the writer leases credentials on the primary: no password anywhere in its configuration', async () => {
    const e = env('writer');
    expect(Object.keys(e).filter((k) => /PASS|SECRET_ID|TOKEN/i.test(k))).toEqual([]);
    const db = await connectDatabase('writer', e);
    expect(db.role).toBe('writer');
    // The writer's grants are per store table (vault/src/bootstrap.ts WRITER_GRANTS).
    await db.getPool().query('SELECT COUNT(*) AS n FROM hosts');
    const [rows] = await db.getPool().query('SELECT CURRENT_USER() AS u');
    const username = db.rotator.lease()!.username;
    expect((rows as { u: string }[])[0]?.u).toBe(`${username}@%`);
    await expect(db.getPool().query('DELETE FROM logs')).rejects.toMatchObject({ errno: 1142 });
    await db.close();
    const c = await adminConnection(infra, 'primary');
    const [users] = await c.query('SELECT COUNT(*) AS n FROM mysql.user WHERE user = ?', [username]);
    await c.end();
    expect(Number((users as { n: number }[])[0]?.n)).toBe(0);
    expect(() => db.getPool()).toThrow(expect.objectContaining({ name: 'InfralogsError' }));
  });

  it("records the rotator's events as metrics: login, lease, rotation, revocation, lease time left", async () => {
    const value = async (name: string, labels = '') => {
      const text = await Metrics.forProcess().text();
      const line = text.split('\n').find((l) => l.startsWith(`${name}${labels} `));
      return line === undefined ? undefined : Number(line.split(' ').pop());
    };
    const before = (await value('infralogs_credentials_leases_total', '{role="writer"}')) ?? 0;
    const db = await connectDatabase('writer', env('writer'));
    expect(await value('infralogs_vault_logins_total')).toBeGreaterThanOrEqual(1);
    expect(await value('infralogs_credentials_leases_total', '{role="writer"}')).toBe(before + 1);
    expect(await value('infralogs_credentials_lease_remaining_seconds', '{role="writer"}')).toBeGreaterThan(
      0,
    );
    await db.rotator.rotateNow();
    expect(await value('infralogs_credentials_rotations_total', '{role="writer",reason="requested"}')).toBe(
      1,
    );
    await db.close();
    expect(await value('infralogs_credentials_revocations_total', '{role="writer"}')).toBeGreaterThanOrEqual(
      1,
    );
    // Closed: its lease time is no longer reported.
    expect(await value('infralogs_credentials_lease_remaining_seconds', '{role="writer"}')).toBeUndefined();
    expect(await Metrics.forProcess().text()).not.toMatch(/password|secret_id|hvs\./i);
  });

  it('the reader leases SELECT-only credentials on the replica', async () => {
    const db = await connectDatabase('reader', env('reader'));
    try {
      const [rows] = await db.getPool().query('SELECT COUNT(*) AS n FROM entries');
      expect(Number((rows as { n: number }[])[0]?.n)).toBeGreaterThanOrEqual(1);
      const err = await db
        .getPool()
        .query("INSERT INTO entries (message) VALUES ('no')")
        .catch((e: { errno?: number }) => e);
      expect([1142, 1290]).toContain((err as { errno?: number }).errno);
    } finally {
      await db.close();
    }
  });

  it('readAgentToken reads KV with the writer login; missing is NOT_FOUND; the reader is denied', async () => {
    await b.root.write(`${b.result.mounts.kv}/data/agents/web-1`, { data: { token: 'agent-token-web-1' } });
    expect(await readAgentToken('web-1', env('writer'))).toBe('agent-token-web-1');
    await expect(readAgentToken('nope', env('writer'))).rejects.toMatchObject({
      code: 'NOT_FOUND',
      status: 404,
    });
    await expect(readAgentToken('web-1', env('reader'))).rejects.toMatchObject({
      code: 'VAULT_DENIED',
      status: 403,
    });
    await expect(readAgentToken('../x', env('writer'))).rejects.toMatchObject({ code: 'BAD_REQUEST' });
  });

  it('with Vault unreachable, callers get VAULT_UNAVAILABLE (503) after retries, not a crash', async () => {
    const e = env('writer', {
      VAULT_ADDR: 'http://127.0.0.1:9',
      DB_START_TIMEOUT_MS: '800',
      VAULT_REQUEST_TIMEOUT_MS: '300',
    });
    await expect(connectDatabase('writer', e)).rejects.toMatchObject({
      code: 'VAULT_UNAVAILABLE',
      status: 503,
    });
    await expect(readAgentToken('web-1', e)).rejects.toMatchObject({ code: 'VAULT_UNAVAILABLE' });
  });

  it('lazyDatabase forgets a failed connect and tries again on the next call', async () => {
    const e = env('writer', { SECRETS_DIR: join(dir, 'later') });
    const lazy = lazyDatabase('writer', e);
    await expect(lazy.get()).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
    await writeAppRoleSecrets({ vault: b.root, result: b.result, role: 'writer', dir: join(dir, 'later') });
    const db = await lazy.get();
    expect(await lazy.get()).toBe(db);
    const [rows] = await db.getPool().query('SELECT 1 AS one');
    expect((rows as { one: number }[])[0]?.one).toBe(1);
    await lazy.close();
  });

  it('VAULT_AUTH=token reads a token file kept fresh by someone else (the Vault agent sidecar)', async () => {
    const tokenFile = join(dir, 'agent-token');
    await writeFile(tokenFile, infra.vault.rootToken + '\n');
    const e = env('writer', { VAULT_AUTH: 'token', VAULT_TOKEN_FILE: tokenFile });
    expect(await readAgentToken('web-1', e)).toBe('agent-token-web-1');
    const missing = env('writer', { VAULT_AUTH: 'token', VAULT_TOKEN_FILE: join(dir, 'none') });
    await expect(readAgentToken('web-1', missing)).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
  });

  it('names the variable when the Vault configuration is incomplete', () => {
    expect(() => vaultConfigFromEnv({ VAULT_AUTH: 'kubernetes' })).toThrow(/VAULT_K8S_ROLE/);
    expect(
      vaultConfigFromEnv({ VAULT_AUTH: 'kubernetes', VAULT_K8S_ROLE: 'infralogs-writer' }).vault.auth,
    ).toMatchObject({
      method: 'kubernetes',
      mount: 'kubernetes',
      jwtFile: '/var/run/secrets/kubernetes.io/serviceaccount/token',
    });
  });
});
