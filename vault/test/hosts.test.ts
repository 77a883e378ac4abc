import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { agentTokenPath, getHost, ingestBatch, upsertHost } from '@infralogs/core';
import { runHostsCli } from '../src/hosts/cli';
import { parseInventory } from '../src/hosts/inventory';
import { bootstrapForTest, entries, type Bootstrapped } from '@infralogs/devkit/fixtures';

/**
 * `npm run hosts` against the real OpenBao and MariaDB: the CLI leases migrator credentials with
 * an operator token, writes tokens to KV and files, issues certificates from PKI.
 */
const infra = inject('infra');
let b: Bootstrapped;
let dir: string;
let env: Record<string, string>;

beforeAll(async () => {
  b = await bootstrapForTest(infra);
  dir = await mkdtemp(join(tmpdir(), 'infralogs-hosts-'));
  const tokenFile = join(dir, 'operator-token');
  await writeFile(tokenFile, `${infra.vault.rootToken}\n`, { mode: 0o600 });
  const m = b.options.mounts!;
  env = {
    VAULT_ADDR: infra.vault.addr,
    VAULT_TOKEN_FILE: tokenFile,
    VAULT_DB_MOUNT: m.database!,
    VAULT_KV_MOUNT: m.kv!,
    VAULT_PKI_MOUNT: m.pki!,
    INFRALOGS_VAULT_PREFIX: b.options.prefix!,
    DB_HOST: infra.mysql.primary.host,
    DB_PORT: String(infra.mysql.primary.port),
    DB_NAME: b.database,
  };
});
afterAll(async () => {
  await b?.cleanup();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function hosts(...argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runHostsCli(argv, env, { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}
const kvToken = async (host: string) =>
  (await b.root.readIfExists<{ data?: { token?: string } }>(agentTokenPath(b.options.mounts!.kv!, host)))
    ?.data?.data?.token;
const withPool = async <T>(fn: (pool: ReturnType<Bootstrapped['storePool']>) => Promise<T>) => {
  const pool = b.storePool();
  try {
    return await fn(pool);
  } finally {
    await pool.end();
  }
};

describe('hosts CLI', () => {
  it('refuses bad names and URLs, naming the problem', async () => {
    const bad = [
      ['add', 'Web_1', 'https://127.0.0.1:1'],
      ['add', 'web-1', 'http://127.0.0.1:1'],
      ['add', 'web-1', 'https://user:secret@127.0.0.1:1'],
    ];
    for (const argv of bad) {
      const r = await hosts(...argv);
      expect(r.code, r.err).toBe(1);
      expect(r.err).toMatch(/BAD_REQUEST/);
      expect(r.err).not.toContain('secret');
    }
    expect((await hosts('frobnicate')).code).toBe(2);
  });

  it('add registers the host, writes its token to the file and KV, issues its certificate; twice changes nothing', async () => {
    const tokensFile = join(dir, 'web-1', 'tokens');
    const certFile = join(dir, 'web-1', 'tls.crt');
    const keyFile = join(dir, 'web-1', 'tls.key');
    const argv = ['add', 'web-1', 'https://127.0.0.2:8687', '--tokens-file', tokensFile];
    const tls = ['--issue-cert', '--cert-file', certFile, '--key-file', keyFile];
    const first = await hosts(...argv, ...tls);
    expect(first.code, first.err).toBe(0);
    expect(first.out).toMatch(/web-1: token, certificate, host registered/);
    const token = await kvToken('web-1');
    expect((await readFile(tokensFile, 'utf8')).trim()).toBe(token);
    const cert = new X509Certificate(await readFile(certFile, 'utf8'));
    expect(cert.checkIP('127.0.0.2')).toBe('127.0.0.2');
    expect(cert.checkIssued(new X509Certificate(b.result.pki!.ca))).toBe(true);

    const second = await hosts(...argv, ...tls);
    expect(second.out).toBe('web-1: unchanged');
    expect(await kvToken('web-1')).toBe(token);
    expect(await withPool((p) => getHost(p, 'web-1'))).toMatchObject({
      agentUrl: 'https://127.0.0.2:8687',
      enabled: true,
    });

    // Without a tokens file the token is printed once, and only then.
    const printed = await hosts('add', 'db-1', 'https://db-1.example.net:8687');
    expect(printed.out).toContain(
      `agent token (put it in the agent's tokens file; it is not shown again): ${await kvToken('db-1')}`,
    );
    expect((await hosts('add', 'db-1', 'https://db-1.example.net:8687')).out).toBe('db-1: unchanged');

    const list = await hosts('list');
    expect(list.out).toMatch(/^NAME +URL +ENABLED/);
    expect(list.out).toMatch(/web-1 +https:\/\/127\.0\.0\.2:8687 +yes/);
    expect((await hosts('disable', 'db-1')).out).toBe('db-1: disabled');
    expect((await hosts('disable', 'db-1')).out).toBe('db-1: already disabled');
  });

  it('rotate-token adds a token with overlap, --retire keeps only KV’s', async () => {
    const tokensFile = join(dir, 'web-1', 'tokens');
    const before = await kvToken('web-1');
    expect((await hosts('rotate-token', 'web-1', '--tokens-file', tokensFile)).code).toBe(0);
    const after = await kvToken('web-1');
    expect(after).not.toBe(before);
    expect((await readFile(tokensFile, 'utf8')).trim().split('\n')).toEqual([before, after]);
    expect((await hosts('rotate-token', 'web-1', '--tokens-file', tokensFile, '--retire')).code).toBe(0);
    expect((await readFile(tokensFile, 'utf8')).trim()).toBe(after);
  });

  it('remove refuses while the host has entries, and --purge deletes them with progress', async () => {
    await withPool(async (p) => {
      await upsertHost(p, { name: 'old-1', agentUrl: 'https://127.0.0.9:1' });
      await ingestBatch(p, { host: 'old-1', entries: entries(1, 30) });
    });
    const refused = await hosts('remove', 'old-1');
    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(/CONFLICT: host "old-1" has stored entries.*--purge/);
    expect(await withPool((p) => getHost(p, 'old-1'))).not.toBeNull();
    const purged = await hosts('remove', 'old-1', '--purge');
    expect(purged.code, purged.err).toBe(0);
    expect(purged.err).toContain('old-1: 30 entries deleted');
    expect(purged.out).toContain('old-1: removed with its 30 entries');
    expect(await withPool((p) => getHost(p, 'old-1'))).toBeNull();
  });

  it('sync prints the difference, applies it with --apply, and a second sync changes nothing', async () => {
    await withPool(async (p) => {
      await upsertHost(p, { name: 'gone-1', agentUrl: 'https://127.0.0.9:2' });
      await ingestBatch(p, { host: 'gone-1', entries: entries(1, 5) });
      await upsertHost(p, { name: 'gone-2', agentUrl: 'https://127.0.0.9:3' });
    });
    const file = join(dir, 'hosts.yml');
    await writeFile(
      file,
      `hosts:
  - name: web-1
    url: https://127.0.0.2:8687
  - name: db-1
    url: https://db-1.example.net:8687
    enabled: true
  - name: lab-1
    url: http://127.0.0.5:8687
    insecure: true
`,
    );
    const dry = await hosts('sync', file);
    expect(dry.code, dry.err).toBe(0);
    expect(dry.out).toMatch(/\(dry run\) add +lab-1/);
    expect(dry.out).toMatch(/\(dry run\) update +db-1: enable/);
    expect(dry.out).toMatch(/\(dry run\) remove +gone-2/);
    expect(dry.out).toMatch(/\(dry run\) disable +gone-1: .*has entries/);
    expect(await withPool((p) => getHost(p, 'lab-1'))).toBeNull();

    const applied = await hosts('sync', file, '--apply', '--tokens-dir', join(dir, 'tokens'));
    expect(applied.code, applied.err).toBe(0);
    expect(await withPool((p) => getHost(p, 'lab-1'))).toMatchObject({ insecure: true, enabled: true });
    expect((await readFile(join(dir, 'tokens', 'lab-1', 'tokens'), 'utf8')).trim()).toBe(
      await kvToken('lab-1'),
    );
    expect(await withPool((p) => getHost(p, 'gone-2'))).toBeNull();
    // Data is never removed without --purge: gone-1 keeps its rows, disabled.
    expect(await withPool((p) => getHost(p, 'gone-1'))).toMatchObject({ enabled: false });

    const again = await hosts('sync', file, '--apply', '--tokens-dir', join(dir, 'tokens'));
    expect(again.out).toContain('the hosts already match the inventory: nothing to do');
    expect(again.out).not.toMatch(/^(add|update|remove|disable)/m);
  });

  it('names the line of a bad inventory', async () => {
    const problems: [string, RegExp][] = [
      [
        'hosts:\n  - name: web-1\n    url: https://a:1\n  - name: web 2\n    url: https://b:1\n',
        /inv\.yml:4: hosts\[1\]: "web 2"/,
      ],
      [
        'hosts:\n  - name: web-1\n    url: ftp://a:1\n',
        /inv\.yml:3: hosts\[0\]: the agent URL must be https/,
      ],
      [
        'hosts:\n  - name: web-1\n    url: https://a:1\n    colour: blue\n',
        /inv\.yml:2: hosts\[0\]: .*colour/,
      ],
      [
        'hosts:\n  - name: a\n    url: https://a:1\n  - name: a\n    url: https://b:1\n',
        /inv\.yml:4: .*listed twice \(first on line 2\)/,
      ],
      ['hosts:\n  - name: [oops\n', /inv\.yml:\d+: /],
    ];
    for (const [text, message] of problems) {
      await expect(parseInventory(text, 'inv.yml')).rejects.toThrow(message);
    }
  });
});
