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
import { constants } from 'node:os';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { createCallbackRotator } from './callback.js';
import { OptionsInvalidError, RotatorStoppedError } from './errors.js';
import { fileSink, readPidFile, type FileSinkOptions } from './file-sink.js';
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

const whole = (fallback: number) => z.coerce.number().int().min(0).default(fallback);
const signalName = z
  .string()
  .transform((s) => (s.toUpperCase().startsWith('SIG') ? s.toUpperCase() : `SIG${s.toUpperCase()}`))
  .refine((s) => s in constants.signals, { message: 'not a signal name (e.g. SIGHUP)' });

/**
 * The whole configuration, validated once: the parsed arguments plus VAULT_ADDR and VAULT_TOKEN.
 * A problem names the option; values are never echoed (VAULT_TOKEN is a secret).
 */
const configSchema = z
  .object({
    'vault-addr': z.url({ message: 'must be a URL (or set VAULT_ADDR)' }),
    namespace: z.string().min(1).optional(),
    auth: z.enum(['token', 'approle', 'kubernetes']),
    'token-file': z.string().min(1).optional(),
    VAULT_TOKEN: z.string().min(1).optional(),
    'role-id-file': z.string().min(1).optional(),
    'secret-id-file': z.string().min(1).optional(),
    'approle-mount': z.string().min(1).optional(),
    'k8s-role': z.string().min(1).optional(),
    'jwt-file': z.string().min(1).optional(),
    'k8s-mount': z.string().min(1).optional(),
    'credentials-path': z.string({ error: 'is required' }).min(1, 'is required'),
    file: z.string({ error: 'is required' }).min(1, 'is required'),
    format: z.enum(['json', 'env']),
    exec: z.string().min(1).optional(),
    'exec-timeout-ms': whole(60_000),
    signal: signalName.optional(),
    pid: z.coerce.number().int().positive().optional(),
    'pid-file': z.string().min(1).optional(),
    'grace-ms': whole(0),
    'keep-file': z.boolean(),
  })
  .superRefine((c, ctx) => {
    const need = (ok: unknown, path: string, message: string) => {
      if (!ok) ctx.addIssue({ code: 'custom', path: [path], message });
    };
    if (c.auth === 'token')
      need(c['token-file'] || c.VAULT_TOKEN, 'token-file', 'or VAULT_TOKEN is required');
    if (c.auth === 'approle') {
      need(c['role-id-file'], 'role-id-file', 'is required with --auth approle');
      need(c['secret-id-file'], 'secret-id-file', 'is required with --auth approle');
    }
    if (c.auth === 'kubernetes') need(c['k8s-role'], 'k8s-role', 'is required with --auth kubernetes');
    if (c.signal) need(c.pid || c['pid-file'], 'pid', 'or --pid-file is required with --signal');
  });

type Config = z.infer<typeof configSchema>;

function loadConfig(values: Record<string, unknown>, env: NodeJS.ProcessEnv): Config {
  const result = configSchema.safeParse({
    ...values,
    'vault-addr': values['vault-addr'] ?? env.VAULT_ADDR,
    VAULT_TOKEN: env.VAULT_TOKEN || undefined,
  });
  if (result.success) return result.data;
  const problems = result.error.issues.map((i) => {
    const name = String(i.path[0] ?? '');
    return `${name === 'VAULT_TOKEN' ? name : `--${name}`} ${i.message}`;
  });
  throw new OptionsInvalidError(`invalid arguments: ${problems.join('; ')}`);
}

const fromFile = (file: string) => () => readFile(file, 'utf8');

function vaultAuth(c: Config): VaultAuth {
  if (c.auth === 'approle') {
    return {
      method: 'approle',
      roleId: fromFile(c['role-id-file']!),
      secretId: fromFile(c['secret-id-file']!),
      ...(c['approle-mount'] ? { mount: c['approle-mount'] } : {}),
    };
  }
  if (c.auth === 'kubernetes') {
    return {
      method: 'kubernetes',
      role: c['k8s-role']!,
      ...(c['jwt-file'] ? { jwtFile: c['jwt-file'] } : {}),
      ...(c['k8s-mount'] ? { mount: c['k8s-mount'] } : {}),
    };
  }
  const tokenFile = c['token-file'];
  return { method: 'token', token: tokenFile ? fromFile(tokenFile) : c.VAULT_TOKEN! };
}

function signalTarget(c: Config): FileSinkOptions['signal'] {
  if (!c.signal) return undefined;
  const name = c.signal as NodeJS.Signals;
  const pid = c.pid;
  const pidFile = c['pid-file'];
  return { name, pid: () => (pid !== undefined ? pid : readPidFile(pidFile!)) };
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
  if (positionals[0] !== 'file' || positionals.length > 1) {
    throw new OptionsInvalidError(`expected the mode \`file\`\n${USAGE}`);
  }
  const c = loadConfig(values, env);
  const logger = jsonLogger({ component: 'vault-rotator' });
  const signal = signalTarget(c);
  const rotator = createCallbackRotator({
    vault: { addr: c['vault-addr'], auth: vaultAuth(c), ...(c.namespace ? { namespace: c.namespace } : {}) },
    credentialsPath: c['credentials-path'],
    target: c.file,
    logger,
    drainTimeoutMs: c['grace-ms'] + 5_000,
    onCredentials: fileSink({
      file: c.file,
      format: c.format,
      graceMs: c['grace-ms'],
      ...(c.exec ? { command: c.exec } : {}),
      commandTimeoutMs: c['exec-timeout-ms'],
      ...(signal ? { signal } : {}),
      onReload: (what) => logger.info('rotator.reload', what),
    }),
  });
  const stopped = new Promise<'stopped'>((resolve) => {
    const stop = (sig: string) => {
      logger.info('rotator.stopping', { signal: sig });
      resolve('stopped');
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  // The rotator's timers do not keep a process alive (a library must not); this CLI must.
  const keepAlive = setInterval(() => {}, 2 ** 30);
  try {
    // SIGTERM while start() still retries stops at once rather than after startTimeoutMs.
    const starting = rotator.start().then(() => 'started' as const);
    starting.catch(() => {}); // when the signal wins, start() ends with ROTATOR_STOPPED: not a failure
    const first = await Promise.race([starting, stopped]);
    if (first === 'started') {
      logger.info('rotator.ready', { file: c.file, leaseId: rotator.lease()?.leaseId });
      await stopped;
    }
  } catch (err) {
    if (!(err instanceof RotatorStoppedError)) throw err;
  } finally {
    clearInterval(keepAlive);
    await rotator.stop();
  }
  if (!c['keep-file']) await rm(c.file, { force: true });
  return 0;
}
