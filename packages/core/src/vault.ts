import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import {
  DEFAULT_JWT_FILE,
  Reporter,
  RotatorError,
  VaultSession,
  type RotatorErrorCode,
  type VaultOptions,
} from '@infralogs/vault-rotator';
import { env as field, loadConfig } from './config';
import { InfralogsError, type ErrorCode } from './errors';
import { createLogger, type LogLevel } from './log';
import { readSecret, secretsDir } from './secrets';
import { recordRotatorEvent } from './rotator-metrics';
import { onShutdown } from './shutdown';

/**
 * How Infralogs components reach Vault. Nothing secret lives in the environment: AppRole ids and
 * a fixed token come from OpenFaaS secret files (re-read on every login, so rotated files count),
 * the Kubernetes JWT from the service-account token file.
 */
const vaultEnvSchema = z
  .object({
    VAULT_ADDR: field.url('http://127.0.0.1:8200'),
    VAULT_AUTH: z.enum(['approle', 'kubernetes', 'token']).default('approle'),
    VAULT_APPROLE_MOUNT: field.str('approle'),
    VAULT_K8S_MOUNT: field.str('kubernetes'),
    VAULT_K8S_ROLE: z.string().min(1).optional(),
    VAULT_K8S_JWT_FILE: field.str(DEFAULT_JWT_FILE),
    VAULT_KV_MOUNT: field.str('infralogs-kv'),
    /** VAULT_AUTH=token: a token file kept fresh by someone else (e.g. the Vault agent sidecar). */
    VAULT_TOKEN_FILE: z.string().min(1).optional(),
    VAULT_NAMESPACE: z.string().min(1).optional(),
    VAULT_REQUEST_TIMEOUT_MS: field.int(10_000, 100, 120_000),
    LOG_LEVEL: field.logLevel(),
  })
  .refine((v) => v.VAULT_AUTH !== 'kubernetes' || v.VAULT_K8S_ROLE, {
    message: 'required when VAULT_AUTH=kubernetes',
    path: ['VAULT_K8S_ROLE'],
  });

export interface VaultConfig {
  vault: VaultOptions;
  kvMount: string;
  /** Who logs in (no secret: mount, role, where the secret files are); one session per identity. */
  identity: string;
  logLevel: LogLevel | undefined;
}

/** Secret file names (OpenFaaS secrets) holding the AppRole ids or a token. */
export const VAULT_SECRET_FILES = {
  roleId: 'vault-role-id',
  secretId: 'vault-secret-id',
  token: 'vault-token',
};

export function vaultConfigFromEnv(env: Record<string, string | undefined> = process.env): VaultConfig {
  const c = loadConfig(vaultEnvSchema, env);
  const auth: VaultOptions['auth'] =
    c.VAULT_AUTH === 'approle'
      ? {
          method: 'approle',
          mount: c.VAULT_APPROLE_MOUNT,
          roleId: () => readSecret(VAULT_SECRET_FILES.roleId, env),
          secretId: () => readSecret(VAULT_SECRET_FILES.secretId, env),
        }
      : c.VAULT_AUTH === 'kubernetes'
        ? {
            method: 'kubernetes',
            mount: c.VAULT_K8S_MOUNT,
            role: c.VAULT_K8S_ROLE!,
            jwtFile: c.VAULT_K8S_JWT_FILE,
          }
        : {
            method: 'token',
            token: c.VAULT_TOKEN_FILE
              ? () => readTokenFile(c.VAULT_TOKEN_FILE!)
              : () => readSecret(VAULT_SECRET_FILES.token, env),
          };
  const identity =
    auth.method === 'kubernetes'
      ? `kubernetes:${auth.mount}:${auth.role}:${auth.jwtFile}`
      : `${auth.method}:${auth.method === 'approle' ? auth.mount : ''}:${c.VAULT_TOKEN_FILE ?? secretsDir(env)}`;
  return {
    identity,
    logLevel: c.LOG_LEVEL,
    vault: {
      addr: c.VAULT_ADDR,
      auth,
      requestTimeoutMs: c.VAULT_REQUEST_TIMEOUT_MS,
      ...(c.VAULT_NAMESPACE ? { namespace: c.VAULT_NAMESPACE } : {}),
    },
    kvMount: c.VAULT_KV_MOUNT,
  };
}

function isVaultConfig(value: object): value is VaultConfig {
  // An environment holds strings only; a VaultConfig holds the Vault options object.
  return 'vault' in value && typeof value.vault === 'object' && 'identity' in value;
}

async function readTokenFile(path: string): Promise<string> {
  const token = (await readFile(path, 'utf8').catch(() => '')).trim();
  if (!token) throw new InfralogsError('CONFIG_INVALID', `VAULT_TOKEN_FILE: ${path} is missing or empty`);
  return token;
}

// One login per process and Vault configuration, shared by the database and KV reads.
const sessions = new Map<string, VaultSession>();

export function vaultSession(config: VaultConfig): VaultSession {
  const key = JSON.stringify([config.vault.addr, config.vault.namespace, config.identity]);
  let session = sessions.get(key);
  if (!session) {
    const logger = createLogger({ component: 'vault' }, config.logLevel ? { level: config.logLevel } : {});
    session = new VaultSession(config.vault, new Reporter(logger, (event) => recordRotatorEvent(event)));
    sessions.set(key, session);
    if (sessions.size === 1) onShutdown(closeVaultSessions);
  }
  return session;
}

/** Stops every shared session (revoking tokens it logged in for). For process shutdown and tests. */
export async function closeVaultSessions(): Promise<void> {
  const all = [...sessions.values()];
  sessions.clear();
  await Promise.all(all.map((s) => s.stop()));
}

const ROTATOR_TO_INFRALOGS: Record<RotatorErrorCode, ErrorCode> = {
  VAULT_UNAVAILABLE: 'VAULT_UNAVAILABLE',
  VAULT_DENIED: 'VAULT_DENIED',
  DATABASE_UNAVAILABLE: 'DATABASE_FAILED',
  OPTIONS_INVALID: 'CONFIG_INVALID',
  VAULT_REQUEST_FAILED: 'CONFIG_INVALID',
  LEASE_INVALID: 'VAULT_UNAVAILABLE',
  ROTATOR_STOPPED: 'INTERNAL',
  // Only the callback adapter raises it; Infralogs uses the mysql2 adapter.
  CONSUMER_FAILED: 'INTERNAL',
};

/** Turns a rotator failure into the catalogue's error (HTTP edges then answer 503/403/500). */
export function toInfralogsError(err: unknown): unknown {
  if (!(err instanceof RotatorError)) return err;
  return new InfralogsError(ROTATOR_TO_INFRALOGS[err.code] ?? 'INTERNAL', err.message, { cause: err });
}

const HOST_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$/;

/** KV v2 path of a host's agent token: `<kv mount>/data/agents/<host>`, data `{ token }`. */
export function agentTokenPath(kvMount: string, host: string): string {
  if (!HOST_NAME.test(host) || host.includes('..')) {
    throw new InfralogsError('BAD_REQUEST', `invalid host name for an agent token: ${JSON.stringify(host)}`);
  }
  return `${kvMount}/data/agents/${host}`;
}

/**
 * The bearer token of a host's agent, read from KV (for fetch-host). NOT_FOUND when none is
 * stored. Give the VaultConfig read at start, or the environment to read it from now.
 */
export async function readAgentToken(
  host: string,
  source: Record<string, string | undefined> | VaultConfig = process.env,
): Promise<string> {
  const config = isVaultConfig(source) ? source : vaultConfigFromEnv(source);
  const path = agentTokenPath(config.kvMount, host);
  const answer = await vaultSession(config)
    .withClient((c) => c.readIfExists<{ data?: { token?: unknown } }>(path))
    .catch((err: unknown) => {
      throw toInfralogsError(err);
    });
  const token = answer?.data?.data?.token;
  if (typeof token !== 'string' || !token) {
    throw new InfralogsError('NOT_FOUND', `no agent token stored for host ${host}`);
  }
  return token;
}
