/**
 * vault-rotator: keeps short-lived database credentials fresh in a file for a process that is not
 * Node (a Python server, a cron job), and tells it on each rotation by a command or a signal.
 *
 *   vault-rotator file --credentials-path database/creds/app --file /run/app/db.json \
 *     --exec 'systemctl reload app'          # exit 0 confirms the reload
 *
 * Vault: --vault-addr (or VAULT_ADDR); --auth token (VAULT_TOKEN or --token-file), approle
 * (--role-id-file, --secret-id-file) or kubernetes (--k8s-role, --jwt-file). Secrets are never
 * taken as arguments (they would show in the process list). Progress: JSON lines on stderr.
 */
import { readFile, rm } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { createCallbackRotator } from './callback.js';
import { OptionsInvalidError } from './errors.js';
import { fileSink, readPidFile, type CredentialsFormat } from './file-sink.js';
import { jsonLogger } from './reporter.js';
import type { VaultAuth } from './session.js';

const USAGE = `usage: vault-rotator file --credentials-path PATH --file FILE [options]

Keeps leased credentials in FILE (atomic write, mode 0600), renews the lease at 2/3 of its TTL,
leases new credentials before max_ttl, and on each new set runs --exec and/or sends --signal.
The previous lease is revoked only after the command exited 0 (and --grace-ms passed).

  --vault-addr URL         Vault/OpenBao address (default: $VAULT_ADDR)
  --namespace NS           Vault Enterprise namespace
  --auth METHOD            token (default), approle or kubernetes
  --token-file FILE        token to use (default: $VAULT_TOKEN)
  --role-id-file FILE      AppRole role_id        --secret-id-file FILE  AppRole secret_id
  --approle-mount NAME     default approle
  --k8s-role ROLE          Kubernetes auth role   --jwt-file FILE        service-account token
  --k8s-mount NAME         default kubernetes
  --credentials-path PATH  e.g. database/creds/app (required)
  --file FILE              where the credentials go (required)
  --format json|env        json (default) or shell-style DB_USERNAME=/DB_PASSWORD= lines
  --exec CMD               run by /bin/sh after each write; exit 0 confirms the reload
  --exec-timeout-ms N      default 60000
  --signal SIG             send SIG (e.g. SIGHUP) after each write, to --pid or --pid-file
  --pid N | --pid-file F   the process to signal
  --grace-ms N             keep retired credentials this long after the reload (default 0)
  --keep-file              leave the file on exit (default: removed, its lease is revoked)
  -h, --help`;

const OPTIONS = {
  'vault-addr': { type: 'string' },
  namespace: { type: 'string' },
  auth: { type: 'string', default: 'token' },
  'token-file': { type: 'string' },
  'role-id-file': { type: 'string' },
  'secret-id-file': { type: 'string' },
  'approle-mount': { type: 'string' },
  'k8s-role': { type: 'string' },
  'jwt-file': { type: 'string' },
  'k8s-mount': { type: 'string' },
  'credentials-path': { type: 'string' },
  file: { type: 'string' },
  format: { type: 'string', default: 'json' },
  exec: { type: 'string' },
  'exec-timeout-ms': { type: 'string' },
  signal: { type: 'string' },
  pid: { type: 'string' },
  'pid-file': { type: 'string' },
  'grace-ms': { type: 'string' },
  'keep-file': { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>['values'];

const fromFile = (file: string) => () => readFile(file, 'utf8');

function required(values: Values, name: keyof Values): string {
  const value = values[name];
  if (typeof value !== 'string' || !value) throw new OptionsInvalidError(`--${String(name)} is required`);
  return value;
}

function count(values: Values, name: keyof Values, fallback: number): number {
  const raw = values[name];
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0)
    throw new OptionsInvalidError(`--${String(name)} must be a whole number`);
  return n;
}

function auth(values: Values, env: NodeJS.ProcessEnv): VaultAuth {
  switch (values.auth) {
    case 'token': {
      const file = values['token-file'];
      if (file) return { method: 'token', token: fromFile(file) };
      if (!env.VAULT_TOKEN) throw new OptionsInvalidError('--auth token needs --token-file or VAULT_TOKEN');
      return { method: 'token', token: env.VAULT_TOKEN };
    }
    case 'approle':
      return {
        method: 'approle',
        roleId: fromFile(required(values, 'role-id-file')),
        secretId: fromFile(required(values, 'secret-id-file')),
        ...(values['approle-mount'] ? { mount: values['approle-mount'] } : {}),
      };
    case 'kubernetes':
      return {
        method: 'kubernetes',
        role: required(values, 'k8s-role'),
        ...(values['jwt-file'] ? { jwtFile: values['jwt-file'] } : {}),
        ...(values['k8s-mount'] ? { mount: values['k8s-mount'] } : {}),
      };
    default:
      throw new OptionsInvalidError(`--auth must be token, approle or kubernetes (got ${values.auth})`);
  }
}

function signalTarget(
  values: Values,
): { name: NodeJS.Signals; pid: () => number | Promise<number> } | undefined {
  if (!values.signal) return undefined;
  const name = (values.signal.startsWith('SIG') ? values.signal : `SIG${values.signal}`).toUpperCase();
  if (values.pid) {
    const pid = count(values, 'pid', 0);
    return { name: name as NodeJS.Signals, pid: () => pid };
  }
  const pidFile = values['pid-file'];
  if (!pidFile) throw new OptionsInvalidError('--signal needs --pid or --pid-file');
  return { name: name as NodeJS.Signals, pid: () => readPidFile(pidFile) };
}

/** Runs the CLI until SIGTERM/SIGINT; resolves to the exit status. */
export async function main(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: OPTIONS,
    allowPositionals: true,
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (positionals[0] !== 'file' || positionals.length > 1)
    throw new OptionsInvalidError(`expected the mode \`file\`\n${USAGE}`);
  const format = values.format as CredentialsFormat;
  if (format !== 'json' && format !== 'env') throw new OptionsInvalidError('--format must be json or env');
  const file = required(values, 'file');
  const addr = values['vault-addr'] ?? env.VAULT_ADDR;
  if (!addr) throw new OptionsInvalidError('--vault-addr or VAULT_ADDR is required');
  const graceMs = count(values, 'grace-ms', 0);
  const logger = jsonLogger({ component: 'vault-rotator' });
  const signal = signalTarget(values);
  const rotator = createCallbackRotator({
    vault: { addr, auth: auth(values, env), ...(values.namespace ? { namespace: values.namespace } : {}) },
    credentialsPath: required(values, 'credentials-path'),
    target: file,
    logger,
    drainTimeoutMs: graceMs + 5_000,
    onCredentials: fileSink({
      file,
      format,
      graceMs,
      ...(values.exec ? { command: values.exec } : {}),
      commandTimeoutMs: count(values, 'exec-timeout-ms', 60_000),
      ...(signal ? { signal } : {}),
      onReload: (what) => logger.info('rotator.reload', what),
    }),
  });
  const stopped = new Promise<void>((resolve) => {
    const stop = (sig: string) => {
      logger.info('rotator.stopping', { signal: sig });
      resolve();
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  await rotator.start().catch(async (err: unknown) => {
    await rotator.stop();
    throw err;
  });
  logger.info('rotator.ready', { file, leaseId: rotator.lease()?.leaseId });
  // The rotator's timers do not keep a process alive (a library must not); this CLI must.
  const keepAlive = setInterval(() => {}, 2 ** 30);
  await stopped;
  clearInterval(keepAlive);
  await rotator.stop();
  if (!values['keep-file']) await rm(file, { force: true });
  return 0;
}
