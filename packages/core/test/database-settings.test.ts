import { describe, expect, it } from 'vitest';
import { databaseSettingsFromEnv, lazyDatabase } from '../src';

const good = { DB_HOST: '127.0.0.1', VAULT_ADDR: 'http://127.0.0.1:8200', LOG_LEVEL: 'warn' };

describe('database settings are validated when the Database is made, not when it connects', () => {
  it.each([
    [{ ...good, DB_HOST: undefined }, 'DB_HOST'],
    [{ ...good, DB_HOST: 'mysql://primary:3306' }, 'DB_HOST'],
    [{ ...good, DB_PORT: 'mysql' }, 'DB_PORT'],
    [{ ...good, VAULT_ADDR: 'vault:8200 ' }, 'VAULT_ADDR'],
    [{ ...good, LOG_LEVEL: 'loud' }, 'LOG_LEVEL'],
  ])('lazyDatabase throws CONFIG_INVALID naming the variable: %j', (env, variable) => {
    expect(() => lazyDatabase('writer', env)).toThrow(
      expect.objectContaining({ code: 'CONFIG_INVALID', message: expect.stringContaining(variable) }),
    );
  });

  it('derives where the credentials are leased from the role, unless VAULT_DB_ROLE names one', () => {
    expect(databaseSettingsFromEnv('reader', good)).toMatchObject({
      role: 'reader',
      credentialsPath: 'database/creds/infralogs-reader',
      mysql: { DB_HOST: '127.0.0.1', DB_PORT: 3306, DB_NAME: 'infralogs' },
      vault: { logLevel: 'warn', vault: { addr: 'http://127.0.0.1:8200' } },
    });
    expect(databaseSettingsFromEnv('writer', { ...good, VAULT_DB_ROLE: 'w' }).credentialsPath).toBe(
      'database/creds/w',
    );
  });
});
