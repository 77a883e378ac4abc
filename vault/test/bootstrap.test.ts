import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { readFile } from 'node:fs/promises';
import {
  beginRun,
  finishRun,
  getCheckpoint,
  getHost,
  getRun,
  ingestBatch,
  listHosts,
  recordHostResult,
  upsertHost,
} from '@infralogs/core';
import { adminConnection, waitFor, waitForReplica } from '@infralogs/devkit';
import { VaultClient, type DatabaseCredentials } from '@infralogs/vault-mysql-rotator';
import { X509Certificate } from 'node:crypto';
import { bootstrap, issueAgentCertificate } from '../src';
import { bootstrapForTest, entries, FAKE_K8S_CA_FILE, type Bootstrapped } from '@infralogs/devkit/fixtures';

const infra = inject('infra');

describe('bootstrap', () => {
  let b: Bootstrapped;
  beforeAll(async () => {
    b = await bootstrapForTest(infra);
  });
  afterAll(() => b?.cleanup());

  const creds = async (role: 'writer' | 'reader' | 'migrator') =>
    b.root.readCredentials(b.result.credentialsPaths[role]);

  it('configures everything on the first run and nothing on the second', async () => {
    expect(b.result.changed.length).toBeGreaterThan(10);
    expect(b.result.changed).toEqual(
      expect.arrayContaining([expect.stringMatching(/rotated its root credentials/)]),
    );
    // The second run no longer has (nor needs) the bootstrap admin: rotate-root made it unknowable.
    const again = await bootstrap({ ...b.options, mysql: { ...b.options.mysql, bootstrapAdmin: undefined } });
    expect(again.changed).toEqual([]);
    expect(again.approle).toEqual(b.result.approle);
  });

  it('sets up PKI: one root CA kept across runs, and agent certificates that verify for the URL', async () => {
    const pki = b.result.pki!;
    expect(b.result.changed).toEqual(
      expect.arrayContaining([expect.stringMatching(/generated the agents' root CA/)]),
    );
    const again = await bootstrap({ ...b.options, mysql: { ...b.options.mysql, bootstrapAdmin: undefined } });
    expect(again.pki?.ca).toBe(pki.ca);
    const ca = new X509Certificate(pki.ca);
    for (const agentUrl of ['https://127.0.0.2:8687', 'https://web-1.example.net:8687']) {
      const issued = await issueAgentCertificate(b.root, {
        mount: pki.mount,
        role: pki.role,
        host: 'web-1',
        agentUrl,
      });
      const cert = new X509Certificate(issued.certificate);
      expect(cert.checkIssued(ca)).toBe(true);
      expect(cert.verify(ca.publicKey)).toBe(true);
      if (agentUrl.includes('127.0.0.2')) expect(cert.checkIP('127.0.0.2')).toBe('127.0.0.2');
      else expect(cert.checkHost('web-1.example.net')).toBe('web-1.example.net');
      expect(issued.privateKey).toMatch(/PRIVATE KEY/);
    }
  });

  it("rotated Vault's own MySQL user: the password the bootstrap set no longer works", async () => {
    const c = await adminConnection(infra, 'primary');
    const [rows] = await c.query('SELECT COUNT(*) AS n FROM mysql.user WHERE user = ?', [
      b.options.mysql.vaultUser,
    ]);
    await c.end();
    expect(Number((rows as { n: number }[])[0]?.n)).toBe(1);
    const config = await b.root.read<{ connection_details: Record<string, unknown> }>(
      `${b.result.mounts.database}/config/${b.options.prefix}`,
    );
    expect(config.data?.connection_details).not.toHaveProperty('password');
    expect(config.data?.connection_details.username).toBe(b.options.mysql.vaultUser);
  });

  it('writer credentials run ingest, fetch-host and collect statements, and nothing more', async () => {
    const lease = await creds('writer');
    expect(lease.data.username).toMatch(/^v-writer-[A-Za-z0-9]{20}$/);
    expect(lease.leaseDuration).toBe(60);
    // Hosts are registered by an operator, as the local stack does with its admin account.
    const operator = b.storePool();
    const writer = b.storePool(lease.data);
    try {
      await upsertHost(operator, { name: 'web-1', agentUrl: 'http://127.0.0.1:9/web-1' });
      // fetch-host
      expect(await getHost(writer, 'web-1')).toMatchObject({ name: 'web-1', enabled: true });
      expect(await getCheckpoint(writer, 'web-1')).toBeNull();
      // ingest, both bulk paths, a replay (reads stored identities) and a source gap
      const first = entries(1, 50);
      for (const [bulk, batch] of [
        ['load', first],
        ['insert', entries(51, 100)],
        ['insert', first],
        ['load', entries(105, 110)],
      ] as const) {
        await ingestBatch(writer, { host: 'web-1', entries: [...batch] }, { bulk });
      }
      expect(await getCheckpoint(writer, 'web-1')).toBe(entries(110, 110)[0]!.cursor);
      const admin = await adminConnection(infra, 'primary', b.database);
      const count = async (sql: string) =>
        Number(((await admin.query(sql))[0] as { n: number | string }[])[0]?.n);
      expect(await count('SELECT COUNT(*) AS n FROM logs')).toBe(106);
      expect(await count('SELECT SUM(n) AS n FROM log_counts_hourly')).toBe(106);
      expect(await count('SELECT COUNT(*) AS n FROM gaps')).toBe(1);
      await admin.end();
      // collect
      expect((await listHosts(writer)).map((h) => h.name)).toEqual(['web-1']);
      const { runId } = await beginRun(writer, { trigger: 'test', hosts: ['web-1'] });
      await recordHostResult(writer, runId, {
        host: 'web-1',
        fetched: 110,
        inserted: 106,
        duplicates: 4,
        batches: 2,
        checkpoint: entries(110, 110)[0]!.cursor,
        error: null,
      });
      await finishRun(writer, runId, { status: 'succeeded' });
      expect(await getRun(operator, runId)).toMatchObject({
        status: 'succeeded',
        hosts: [{ inserted: 106 }],
      });
    } finally {
      await Promise.all([writer.end(), operator.end()]);
    }

    const conn = await b.connect('primary', lease.data);
    try {
      // Stored history cannot be rewritten or removed, hosts not re-pointed, the schema not touched.
      for (const sql of [
        "UPDATE logs SET message = 'forged'",
        'DELETE FROM logs',
        "REPLACE INTO logs (host_id, ts, boot_id, seqnum_id, seqnum, `cursor`) SELECT host_id, ts, boot_id, seqnum_id, seqnum, 'x' FROM logs LIMIT 1",
        'INSERT INTO logs (host_id) SELECT host_id FROM logs LIMIT 1 ON DUPLICATE KEY UPDATE message = NULL',
        'TRUNCATE TABLE logs',
        "INSERT INTO hosts (name, agent_url, created_at, updated_at) VALUES ('evil', 'http://x', NOW(), NOW())",
        'DELETE FROM hosts',
        'DELETE FROM checkpoints',
        'DELETE FROM gaps',
        'SELECT * FROM schema_migrations',
        "INSERT INTO schema_migrations (version, applied_at) VALUES ('9999', NOW())",
        'DROP TABLE logs',
        'ALTER TABLE logs ADD COLUMN x INT',
        'CREATE TABLE t2 (id INT)',
        'SELECT * FROM entries',
      ]) {
        await expect(conn.query(sql), sql).rejects.toMatchObject({ errno: 1142 });
      }
      // Only the timestamp of hosts may change (it lets ingest lock the host row on MySQL 8).
      await expect(conn.query("UPDATE hosts SET agent_url = 'http://attacker'")).rejects.toMatchObject({
        errno: 1143,
      });
      await expect(conn.query('UPDATE hosts SET enabled = 0')).rejects.toMatchObject({ errno: 1143 });
    } finally {
      await conn.end();
    }
  });

  it('reader credentials: SELECT works on the replica; INSERT is refused by the grant', async () => {
    const lease = await creds('reader');
    // Refused by the grant itself (on the primary, where read_only does not answer first).
    const onPrimary = await b.connect('primary', lease.data);
    await expect(onPrimary.query("INSERT INTO entries (message) VALUES ('x')")).rejects.toMatchObject({
      errno: 1142,
    });
    await onPrimary.end();
    await waitForReplica(infra);
    const conn = await b.connect('replica', lease.data);
    try {
      const [rows] = await conn.query('SELECT message FROM entries ORDER BY id LIMIT 1');
      expect((rows as { message: string }[])[0]?.message).toBe('seed');
      const err = await conn
        .query("INSERT INTO entries (message) VALUES ('x')")
        .catch((e: { errno?: number }) => e);
      expect([1142, 1290]).toContain((err as { errno?: number }).errno);
    } finally {
      await conn.end();
    }
  });

  it('after revocation, new connections with the credentials fail', async () => {
    const lease = await creds('writer');
    const open = await b.connect('primary', lease.data);
    await b.root.revokeLease(lease.leaseId);
    await expect(b.connect('primary', lease.data)).rejects.toMatchObject({ errno: 1045 });
    // MySQL's DROP USER leaves open sessions alone: this is why the rotator drains and closes pools.
    const [rows] = await open.query('SELECT 1 AS one');
    expect((rows as { one: number }[])[0]?.one).toBe(1);
    await open.end();
    // Revoking again is harmless (DROP USER IF EXISTS).
    await b.root.revokeLease(lease.leaseId);
  });

  it('migrator credentials can change the schema the writer cannot', async () => {
    const lease = await creds('migrator');
    const conn = await b.connect('primary', lease.data);
    await conn.query('ALTER TABLE entries ADD COLUMN note VARCHAR(10) NULL');
    await conn.query('ALTER TABLE entries DROP COLUMN note');
    await conn.end();
    await b.root.revokeLease(lease.leaseId);
  });

  it('writes the rendered policies, least privilege, and AppRole roles without the default policy', async () => {
    const writer = (await b.root.read<{ policy: string }>(`sys/policies/acl/${b.result.policies.writer}`))
      .data?.policy;
    expect(writer).toContain(`path "${b.result.credentialsPaths.writer}"`);
    expect(writer).toContain(`path "sys/leases/revoke/${b.result.credentialsPaths.writer}/*"`);
    expect(writer).toContain(`path "${b.result.mounts.kv}/data/agents/*"`);
    expect(writer).not.toContain('{{');
    const template = await readFile(new URL('../policies/writer.hcl', import.meta.url), 'utf8');
    expect(template).toContain('{{writer_role}}');
    const reader = (await b.root.read<{ policy: string }>(`sys/policies/acl/${b.result.policies.reader}`))
      .data?.policy;
    expect(reader).not.toContain('/data/agents');
    expect(reader).not.toContain(b.result.credentialsPaths.writer);
    const role = await b.root.read<{ token_policies: string[]; token_no_default_policy: boolean }>(
      `auth/${b.result.mounts.approle}/role/${b.result.approle.writer.role}`,
    );
    expect(role.data).toMatchObject({
      token_policies: [b.result.policies.writer, b.result.policies.token],
      token_no_default_policy: true,
    });
  });

  it('an AppRole login as reader may lease reader credentials but not writer ones, nor read agent tokens', async () => {
    const mount = b.result.mounts.approle;
    const secretId = (
      await b.root.write<{ secret_id: string }>(
        `auth/${mount}/role/${b.result.approle.reader.role}/secret-id`,
        {},
      )
    )?.data?.secret_id as string;
    const reader = new VaultClient({ addr: infra.vault.addr });
    const auth = await reader.loginAppRole(mount, b.result.approle.reader.roleId, secretId);
    reader.token = auth.clientToken;
    const lease = await reader.readCredentials(b.result.credentialsPaths.reader);
    await reader.renewLease(lease.leaseId, 60);
    await expect(reader.readCredentials(b.result.credentialsPaths.writer)).rejects.toMatchObject({
      code: 'VAULT_DENIED',
    });
    await expect(reader.read(`${b.result.mounts.kv}/data/agents/h1`)).rejects.toMatchObject({
      code: 'VAULT_DENIED',
    });
    await reader.revokeLease(lease.leaseId);
    await reader.revokeSelf();
  });
});

describe('bootstrap with short TTLs', () => {
  let b: Bootstrapped;
  beforeAll(async () => {
    b = await bootstrapForTest(infra, { ttl: { credentials: '2s', credentialsMax: '3s' } });
  });
  afterAll(() => b?.cleanup());

  it('after the TTL runs out, new connections with the credentials fail', async () => {
    const lease: { data: DatabaseCredentials; leaseDuration: number } = await b.root.readCredentials(
      b.result.credentialsPaths.writer,
    );
    expect(lease.leaseDuration).toBe(2);
    const ok = await b.connect('primary', lease.data);
    await ok.end();
    // Vault revokes expired leases on its own schedule: wait for the refusal instead of a fixed time.
    await waitFor(
      'the expired credentials to be refused',
      async () => {
        try {
          await (await b.connect('primary', lease.data)).end();
          return false;
        } catch (err) {
          return (err as { errno?: number }).errno === 1045;
        }
      },
      30_000,
      200,
    );
    await expect(b.connect('primary', lease.data)).rejects.toMatchObject({ errno: 1045 });
  });
});

describe('bootstrap with Kubernetes auth', () => {
  let b: Bootstrapped;
  beforeAll(async () => {
    b = await bootstrapForTest(infra, {
      kubernetes: {
        host: 'https://10.43.0.1:443',
        caCert: await readFile(FAKE_K8S_CA_FILE, 'utf8'),
      },
    });
  });
  afterAll(() => b?.cleanup());

  it('configures the auth method and binds the roles to openfaas-fn/default (login needs a cluster)', async () => {
    const mount = b.result.mounts.kubernetes!;
    const config = await b.root.read<Record<string, unknown>>(`auth/${mount}/config`);
    expect(config.data).toMatchObject({
      kubernetes_host: 'https://10.43.0.1:443',
      disable_local_ca_jwt: true,
    });
    const writer = await b.root.read<Record<string, unknown>>(
      `auth/${mount}/role/${b.result.kubernetes!.writer}`,
    );
    expect(writer.data).toMatchObject({
      bound_service_account_names: ['default'],
      bound_service_account_namespaces: ['openfaas-fn'],
      token_policies: [b.result.policies.writer, b.result.policies.token],
    });
    const migrator = await b.root.read<Record<string, unknown>>(
      `auth/${mount}/role/${b.result.kubernetes!.migrator}`,
    );
    expect(migrator.data).toMatchObject({ bound_service_account_names: ['infralogs-migrator'] });
    const again = await bootstrap({ ...b.options, mysql: { ...b.options.mysql, bootstrapAdmin: undefined } });
    expect(again.changed).toEqual([]);
  });

  it('refuses to configure a connection it cannot create without the bootstrap admin', async () => {
    const other = bootstrap({
      ...b.options,
      prefix: `${b.options.prefix}x`,
      mysql: { ...b.options.mysql, bootstrapAdmin: undefined },
    });
    await expect(other).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
  });
});
