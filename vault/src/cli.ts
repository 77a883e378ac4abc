/**
 * The bootstrap CLI (a Kubernetes Job in the cluster, a step of the local stack on a laptop);
 * `main.ts` runs it.
 *
 *   tsx vault/src/main.ts [bootstrap]      configure Vault/OpenBao (idempotent)
 *
 * Agent tokens are the hosts CLI's (`npm run hosts -- rotate-token`, hosts/cli.ts).
 *
 * Secrets come from files (VAULT_TOKEN_FILE, MYSQL_BOOTSTRAP_PASSWORD_FILE, ...), never arguments.
 * The bootstrap prints its result (mounts, role names, AppRole role ids: no secrets) as JSON.
 */
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { createLogger, env as field, errorBody, loadConfig, type LogLevel } from '@infralogs/core';
import { bootstrap, type BootstrapOptions } from './bootstrap';

const optionalFile = z.string().min(1).optional();
const duration = (def: string) =>
  z
    .string()
    .regex(/^\d+[smhd]?$/, 'a duration like 30s, 5m or 1h')
    .default(def);

const schema = z.object({
  VAULT_ADDR: field.url('http://127.0.0.1:8200'),
  /** Read before the rest (the logger exists first); checked here so a bad one is named. */
  LOG_LEVEL: field.logLevel(),
  VAULT_TOKEN_FILE: optionalFile,
  VAULT_TOKEN: z.string().min(1).optional(),
  VAULT_DB_MOUNT: field.str('database'),
  VAULT_KV_MOUNT: field.str('infralogs-kv'),
  VAULT_APPROLE_MOUNT: field.str('approle'),
  VAULT_K8S_MOUNT: field.str('kubernetes'),
  INFRALOGS_VAULT_PREFIX: field.str('infralogs'),
  VAULT_PKI_MOUNT: field.str('infralogs-pki'),
  MYSQL_HOST: field.str('127.0.0.1'),
  MYSQL_PORT: field.port(3306),
  MYSQL_DATABASE: field.str('infralogs'),
  MYSQL_ADMIN_HOST: z.string().min(1).optional(),
  MYSQL_ADMIN_PORT: z.coerce.number().int().min(1).max(65535).optional(),
  MYSQL_BOOTSTRAP_USER: field.str('root'),
  MYSQL_BOOTSTRAP_PASSWORD_FILE: optionalFile,
  MYSQL_TLS_CA_FILE: optionalFile,
  VAULT_MYSQL_USER: field.str('vault_admin'),
  CREDENTIALS_TTL: duration('5m'),
  CREDENTIALS_MAX_TTL: duration('1h'),
  TOKEN_TTL: duration('1h'),
  TOKEN_MAX_TTL: duration('24h'),
  K8S_HOST: z.string().url().optional(),
  K8S_CA_CERT_FILE: optionalFile,
  K8S_TOKEN_REVIEWER_JWT_FILE: optionalFile,
  K8S_NAMESPACE: field.str('openfaas-fn'),
  K8S_SERVICE_ACCOUNT: field.str('default'),
  K8S_MIGRATOR_NAMESPACE: field.str('infralogs'),
  K8S_MIGRATOR_SERVICE_ACCOUNT: field.str('infralogs-migrator'),
  K8S_AUDIENCE: z.string().min(1).optional(),
  RECONFIGURE: field.bool(false),
});

type Config = z.infer<typeof schema>;

const read = async (path: string | undefined) => (path ? (await readFile(path, 'utf8')).trim() : undefined);

async function vaultToken(c: Config): Promise<string> {
  const token = (await read(c.VAULT_TOKEN_FILE)) ?? c.VAULT_TOKEN;
  if (!token) throw new Error('set VAULT_TOKEN_FILE (preferred) or VAULT_TOKEN to an admin token');
  return token;
}

async function bootstrapOptions(c: Config): Promise<BootstrapOptions> {
  const bootstrapPassword = await read(c.MYSQL_BOOTSTRAP_PASSWORD_FILE);
  const tlsCa = await read(c.MYSQL_TLS_CA_FILE);
  const caCert = await read(c.K8S_CA_CERT_FILE);
  const tokenReviewerJwt = await read(c.K8S_TOKEN_REVIEWER_JWT_FILE);
  return {
    vault: { addr: c.VAULT_ADDR, token: await vaultToken(c) },
    mysql: {
      host: c.MYSQL_HOST,
      port: c.MYSQL_PORT,
      database: c.MYSQL_DATABASE,
      vaultUser: c.VAULT_MYSQL_USER,
      ...(c.MYSQL_ADMIN_HOST ? { adminHost: c.MYSQL_ADMIN_HOST } : {}),
      ...(c.MYSQL_ADMIN_PORT ? { adminPort: c.MYSQL_ADMIN_PORT } : {}),
      ...(bootstrapPassword
        ? { bootstrapAdmin: { user: c.MYSQL_BOOTSTRAP_USER, password: bootstrapPassword } }
        : {}),
      ...(tlsCa ? { tlsCa } : {}),
    },
    prefix: c.INFRALOGS_VAULT_PREFIX,
    mounts: {
      database: c.VAULT_DB_MOUNT,
      kv: c.VAULT_KV_MOUNT,
      approle: c.VAULT_APPROLE_MOUNT,
      kubernetes: c.VAULT_K8S_MOUNT,
      pki: c.VAULT_PKI_MOUNT,
    },
    ttl: {
      credentials: c.CREDENTIALS_TTL,
      credentialsMax: c.CREDENTIALS_MAX_TTL,
      token: c.TOKEN_TTL,
      tokenMax: c.TOKEN_MAX_TTL,
    },
    ...(c.K8S_HOST
      ? {
          kubernetes: {
            host: c.K8S_HOST,
            namespace: c.K8S_NAMESPACE,
            serviceAccount: c.K8S_SERVICE_ACCOUNT,
            migratorNamespace: c.K8S_MIGRATOR_NAMESPACE,
            migratorServiceAccount: c.K8S_MIGRATOR_SERVICE_ACCOUNT,
            ...(caCert ? { caCert } : {}),
            ...(tokenReviewerJwt ? { tokenReviewerJwt } : {}),
            ...(c.K8S_AUDIENCE ? { audience: c.K8S_AUDIENCE } : {}),
          },
        }
      : {}),
    reconfigure: c.RECONFIGURE,
  };
}

export async function runCli(
  argv: string[],
  env: Record<string, string | undefined> = process.env,
): Promise<number> {
  const level = env.LOG_LEVEL as LogLevel | undefined;
  const log = createLogger({ component: 'vault-cli' }, level ? { level } : {});
  const [command = 'bootstrap'] = argv;
  try {
    const c = loadConfig(schema, env);
    if (command === 'bootstrap') {
      const result = await bootstrap({ ...(await bootstrapOptions(c)), logger: log });
      process.stdout.write(JSON.stringify(result, null, 2) + '\n');
      return 0;
    }
    if (command === 'rotate-agent-token' || command === 'retire-agent-tokens') {
      throw new Error(`${command} is now \`hosts rotate-token HOST --tokens-file FILE [--retire]\``);
    }
    throw new Error(`unknown command ${command} (bootstrap; hosts <verb>; migrate, partitions, retention)`);
  } catch (err) {
    const { body } = errorBody(err);
    const code = (err as { code?: unknown }).code;
    log.error('vault.cli.failed', {
      command,
      code: typeof code === 'string' ? code : body.error.code,
      message: (err as Error).message,
    });
    return 1;
  }
}
