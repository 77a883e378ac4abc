import { REQUEST_LIMITS, type InfralogsError } from '@infralogs/core';
import { describe, expect, it } from 'vitest';
import { agentConfigFromEnv } from '../src/config';

const problem = (env: Record<string, string>) => {
  try {
    agentConfigFromEnv(env);
    return null;
  } catch (err) {
    return { code: (err as InfralogsError).code, message: (err as InfralogsError).message };
  }
};

describe('agentConfigFromEnv', () => {
  it('has defaults for everything but the token file', () => {
    expect(agentConfigFromEnv({ AGENT_TOKENS_FILE: '/run/tokens', JOURNAL_DIR: '' })).toEqual({
      host: '127.0.0.1',
      port: 8687,
      tokensFile: '/run/tokens',
      journalDir: null,
      limitDefault: 10_000,
      limitMax: 100_000,
      maxStreams: 4,
      busyRetryAfterS: 5,
      journalctl: 'journalctl',
      journalctlBuffer: '64K',
      metricsHost: '127.0.0.1',
      metricsPort: null,
      tls: null,
      requestLimits: REQUEST_LIMITS,
    });
  });

  it('serves HTTPS with a certificate and key, and asks for client certificates with a CA', () => {
    const c = agentConfigFromEnv({
      AGENT_TOKENS_FILE: '/t',
      AGENT_TLS_CERT_FILE: '/tls/cert.pem',
      AGENT_TLS_KEY_FILE: '/tls/key.pem',
      AGENT_TLS_CLIENT_CA_FILE: '/tls/clients.pem',
    });
    expect(c.tls).toEqual({
      certFile: '/tls/cert.pem',
      keyFile: '/tls/key.pem',
      clientCaFile: '/tls/clients.pem',
    });
  });

  it('reads every variable', () => {
    const c = agentConfigFromEnv({
      AGENT_HOST: '0.0.0.0',
      AGENT_PORT: '9000',
      AGENT_TOKENS_FILE: '/t',
      JOURNAL_DIR: '/var/log/journal',
      AGENT_LIMIT_DEFAULT: '5',
      AGENT_LIMIT_MAX: '10',
      AGENT_MAX_STREAMS: '2',
      AGENT_BUSY_RETRY_AFTER_S: '1',
      JOURNALCTL: '/usr/bin/journalctl',
      JOURNALCTL_STDOUT_BUFFER: 'off',
    });
    expect(c).toMatchObject({
      host: '0.0.0.0',
      port: 9000,
      journalDir: '/var/log/journal',
      limitMax: 10,
      maxStreams: 2,
      busyRetryAfterS: 1,
    });
    expect(c.journalctlBuffer).toBeNull();
  });

  it.each([
    [{}, 'AGENT_TOKENS_FILE'],
    [{ AGENT_TOKENS_FILE: '/t', AGENT_PORT: 'http' }, 'AGENT_PORT'],
    [{ AGENT_TOKENS_FILE: '/t', AGENT_LIMIT_DEFAULT: '20', AGENT_LIMIT_MAX: '10' }, 'AGENT_LIMIT_DEFAULT'],
    [{ AGENT_TOKENS_FILE: '/t', AGENT_LIMIT_MAX: '0' }, 'AGENT_LIMIT_MAX'],
    [{ AGENT_TOKENS_FILE: '/t', AGENT_MAX_STREAMS: '0' }, 'AGENT_MAX_STREAMS'],
    [{ AGENT_TOKENS_FILE: '/t', JOURNALCTL_STDOUT_BUFFER: 'lots' }, 'JOURNALCTL_STDOUT_BUFFER'],
    [{ AGENT_TOKENS_FILE: '/t', LOG_LEVEL: 'verbose' }, 'LOG_LEVEL'],
    [{ AGENT_TOKENS_FILE: '/t', AGENT_TLS_CERT_FILE: '/c' }, 'AGENT_TLS_KEY_FILE'],
    [{ AGENT_TOKENS_FILE: '/t', AGENT_TLS_CLIENT_CA_FILE: '/ca' }, 'AGENT_TLS_CLIENT_CA_FILE'],
  ])('fails naming the variable: %j', (env, variable) => {
    const p = problem(env as Record<string, string>);
    expect(p?.code).toBe('CONFIG_INVALID');
    expect(p?.message).toContain(variable);
  });
});
