import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '@infralogs/core';
import { uniqueName } from '@infralogs/devkit';
import { VaultClient } from '@infralogs/vault-mysql-rotator';
// The agent's own token-file reader: proves the agent accepts both tokens during the overlap.
import { TokenFile } from '../../agent/src/tokens';
import { retireAgentTokens, rotateAgentToken } from '../src';

const infra = inject('infra');
const quiet = createLogger({}, { write: () => {} });

describe('agent-token rotation', () => {
  const kvMount = uniqueName('kv');
  const root = new VaultClient({ addr: infra.vault.addr, token: infra.vault.rootToken });
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'agent-tokens-'));
    await root.write(`sys/mounts/${kvMount}`, { type: 'kv', options: { version: '2' } });
  });
  afterAll(async () => {
    await root.delete(`sys/mounts/${kvMount}`).catch(() => {});
    await rm(dir, { recursive: true, force: true });
  });

  const kvToken = async (host: string) =>
    (await root.read<{ data: { token: string } }>(`${kvMount}/data/agents/${host}`)).data?.data.token;
  const tokensIn = async (file: string) =>
    (await readFile(file, 'utf8')).split('\n').filter((l) => l.trim() && !l.startsWith('#'));

  it('overlaps old and new tokens in the agent file, moves KV to the new one, then retires the old', async () => {
    const host = 'web-1';
    const tokensFile = join(dir, 'web-1.tokens');
    await writeFile(tokensFile, '# agent tokens\nold-token-aaaaaaaaaaaaaaaaaaaaaaaa\n');
    await root.write(`${kvMount}/data/agents/${host}`, {
      data: { token: 'old-token-aaaaaaaaaaaaaaaaaaaaaaaa' },
    });
    const agent = new TokenFile(tokensFile, quiet);
    await agent.load();
    const target = { host, tokensFile, kvMount, vault: root };

    const rotated = await rotateAgentToken(target);
    expect(rotated).toEqual({ kvVersion: 2, fileEntries: 2 });
    const fresh = await kvToken(host);
    expect(fresh).toMatch(/^[A-Za-z0-9_-]{43}$/); // 32 random bytes, base64url
    expect(await tokensIn(tokensFile)).toEqual(['old-token-aaaaaaaaaaaaaaaaaaaaaaaa', fresh]);
    expect((await stat(tokensFile)).mode & 0o777).toBe(0o600);
    // During the overlap the agent accepts both.
    expect(await agent.accepts('Bearer old-token-aaaaaaaaaaaaaaaaaaaaaaaa')).toBe(true);
    expect(await agent.accepts(`Bearer ${fresh}`)).toBe(true);

    expect(await retireAgentTokens(target)).toEqual({ removed: 1 });
    expect(await readFile(tokensFile, 'utf8')).toBe(`# agent tokens\n${fresh}\n`);
    expect(await agent.accepts('Bearer old-token-aaaaaaaaaaaaaaaaaaaaaaaa')).toBe(false);
    expect(await agent.accepts(`Bearer ${fresh}`)).toBe(true);
  });

  it('refuses to retire when the KV token is not in the file (it would lock fetch-host out)', async () => {
    const tokensFile = join(dir, 'db-1.tokens');
    await writeFile(tokensFile, 'some-token\n');
    await root.write(`${kvMount}/data/agents/db-1`, { data: { token: 'another-token' } });
    await expect(retireAgentTokens({ host: 'db-1', tokensFile, kvMount, vault: root })).rejects.toMatchObject(
      {
        code: 'CONFLICT',
      },
    );
    expect(await tokensIn(tokensFile)).toEqual(['some-token']);
  });
});
