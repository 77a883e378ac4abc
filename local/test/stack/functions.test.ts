import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '@infralogs/devkit';
import { loadStack } from '../../src/stack-file';
import { functionSettings } from '../../src/stack/functions';

describe('functionSettings', () => {
  const topology = {
    primary: { host: '127.0.0.1', port: 3310, socket: '', dataDir: '' },
    replica: { host: '127.0.0.1', port: 3311, socket: '', dataDir: '' },
  };
  const secrets = {
    'collect-token': 'c',
    'fetch-host-token': 'f',
    'ingest-token': 'i',
    'agent-ca': 'pem',
    'dashboard-users': 'u',
    'dashboard-session-key': 'k',
  };

  it('gives each function of the real stack.yml its server, Vault role and exactly its secrets', async () => {
    const stack = await loadStack(join(repoRoot, 'stack.yml'), {});
    const settings = functionSettings(stack, {
      topology,
      vaultAddr: 'http://127.0.0.1:8200',
      secrets,
      secretsRoot: '/s',
    });
    expect(Object.keys(settings).sort()).toEqual(['collect', 'dashboard', 'fetch-host', 'ingest']);
    expect(settings['fetch-host']).toMatchObject({
      env: {
        DB_HOST: '127.0.0.1',
        DB_PORT: '3310',
        VAULT_ADDR: 'http://127.0.0.1:8200',
        VAULT_AUTH: 'approle',
      },
      secretsDir: '/s/fetch-host',
      vaultRole: 'infralogs-writer',
      secretValues: { 'fetch-host-token': 'f', 'ingest-token': 'i', 'agent-ca': 'pem' },
    });
    // The dashboard reads the replica with the reader role; its secrets are its login's, no caller token.
    expect(settings.dashboard).toMatchObject({
      env: { DB_PORT: '3311' },
      vaultRole: 'infralogs-reader',
      secretValues: { 'dashboard-users': 'u', 'dashboard-session-key': 'k' },
    });
    expect(settings.collect).toMatchObject({ vaultRole: 'infralogs-writer', env: { DB_PORT: '3310' } });
    expect(Object.keys(settings.collect!.secretValues).sort()).toEqual(['collect-token', 'fetch-host-token']);
    expect(settings.ingest!.secretValues).toEqual({ 'ingest-token': 'i' });
  });

  it('refuses a secret the local stack does not make', async () => {
    const stack = await loadStack(join(repoRoot, 'stack.yml'), {});
    expect(() =>
      functionSettings(stack, { topology, vaultAddr: 'x', secrets: {}, secretsRoot: '/s' }),
    ).toThrow(/needs secret/);
  });
});
