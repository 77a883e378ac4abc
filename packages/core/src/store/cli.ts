import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { env, loadConfig } from '../config';
import { errorBody, InfralogsError } from '../errors';
import { createLogger } from '../log';
import { migrate } from './migrations';
import { dropPartitionsOlderThan, ensurePartitions } from './partitions';
import { createStorePool } from './sql';

/**
 * Operators' entry to the store:
 *   tsx packages/core/src/store/cli.ts migrate
 *   tsx packages/core/src/store/cli.ts partitions [--days-ahead 7]
 *   tsx packages/core/src/store/cli.ts retention [--days 30]
 *   tsx packages/core/src/store/cli.ts daily [--days 30] [--days-ahead 7]
 * `daily` is what the retention CronJob (deploy/k8s/jobs/store-retention.yaml) and the local stack's
 * schedule run: the coming days' partitions, then retention. Without --days, retention keeps
 * RETENTION_DAYS days (default 30).
 * The database comes from DB_HOST, DB_PORT, DB_NAME, and the credentials from a file, never from
 * the environment or argv: either DB_CREDENTIALS_FILE, JSON `{"username","password"}` as the Vault
 * agent renders a `database/creds/...` lease (the migrator role in the cluster), or DB_USER with
 * the password in the file named by DB_PASSWORD_FILE. Each result is one JSON log line.
 */
const configSchema = z
  .object({
    DB_HOST: env.str('127.0.0.1'),
    DB_PORT: env.port(3306),
    DB_NAME: env.str('infralogs'),
    DB_USER: env.str('infralogs'),
    DB_PASSWORD_FILE: z.string().min(1).optional(),
    DB_CREDENTIALS_FILE: z.string().min(1).optional(),
    /**
     * Who writes DB_CREDENTIALS_FILE, named when it is missing: in the cluster the Jobs say "the
     * Vault agent injector", whose webhook lets pods start without it when it is not ready.
     */
    DB_CREDENTIALS_FROM: z.string().min(1).optional(),
    RETENTION_DAYS: env.int(30, 1, 36_500),
  })
  .refine((c) => c.DB_PASSWORD_FILE || c.DB_CREDENTIALS_FILE, {
    message: 'set DB_CREDENTIALS_FILE or DB_PASSWORD_FILE',
    path: ['DB_PASSWORD_FILE'],
  });

const leaseFileSchema = z.object({ username: z.string().min(1), password: z.string().min(1) });

async function readCredentials(
  cfg: z.infer<typeof configSchema>,
): Promise<{ user: string; password: string }> {
  const variable = cfg.DB_CREDENTIALS_FILE ? 'DB_CREDENTIALS_FILE' : 'DB_PASSWORD_FILE';
  const file = (cfg.DB_CREDENTIALS_FILE ?? cfg.DB_PASSWORD_FILE)!;
  const text = await readFile(file, 'utf8').catch((cause: unknown) => {
    const missing = (cause as NodeJS.ErrnoException).code === 'ENOENT';
    const from = cfg.DB_CREDENTIALS_FILE && cfg.DB_CREDENTIALS_FROM;
    const why = missing && from ? `: ${file} does not exist, so ${from} did not write it` : '';
    throw new InfralogsError('CONFIG_INVALID', `${variable} cannot be read${why}`, { cause });
  });
  if (!cfg.DB_CREDENTIALS_FILE) return { user: cfg.DB_USER, password: text.trim() };
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  const lease = leaseFileSchema.safeParse(parsed);
  if (!lease.success) {
    throw new InfralogsError('CONFIG_INVALID', 'DB_CREDENTIALS_FILE must hold JSON {"username","password"}');
  }
  return { user: lease.data.username, password: lease.data.password };
}

const USAGE =
  'usage: cli.ts migrate | partitions [--days-ahead N] | retention [--days N] | daily [--days N] [--days-ahead N]';

function intOption(value: string | undefined, name: string, fallback?: number): number {
  if (value === undefined && fallback !== undefined) return fallback;
  const n = Number(value);
  if (value === undefined || !Number.isInteger(n) || n < 0) {
    throw new InfralogsError('BAD_REQUEST', `--${name} needs a whole number of days; ${USAGE}`);
  }
  return n;
}

export async function main(
  argv = process.argv.slice(2),
  log = createLogger({ component: 'store-cli' }),
): Promise<number> {
  try {
    const { positionals, values } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { days: { type: 'string' }, 'days-ahead': { type: 'string' } },
    });
    const command = positionals[0];
    if (!command || !['migrate', 'partitions', 'retention', 'daily'].includes(command)) {
      throw new InfralogsError('BAD_REQUEST', USAGE);
    }
    const cfg = loadConfig(configSchema);
    const days = () => intOption(values.days, 'days', cfg.RETENTION_DAYS);
    const daysAhead = () => intOption(values['days-ahead'], 'days-ahead', 7);
    const pool = createStorePool({
      host: cfg.DB_HOST,
      port: cfg.DB_PORT,
      database: cfg.DB_NAME,
      ...(await readCredentials(cfg)),
      connectionLimit: 1,
    });
    try {
      if (command === 'migrate') {
        const { applied } = await migrate(pool, { log });
        log.info('store.migrated', { database: cfg.DB_NAME, applied });
      } else if (command === 'partitions') {
        const added = await ensurePartitions(pool, { daysAhead: daysAhead() });
        log.info('store.partitions_added', { database: cfg.DB_NAME, added });
      } else if (command === 'retention') {
        const dropped = await dropPartitionsOlderThan(pool, { days: days() });
        log.info('store.partitions_dropped', { database: cfg.DB_NAME, days: days(), dropped });
      } else {
        const added = await ensurePartitions(pool, { daysAhead: daysAhead() });
        const dropped = await dropPartitionsOlderThan(pool, { days: days() });
        log.info('store.daily_done', { database: cfg.DB_NAME, days: days(), added, dropped });
      }
    } finally {
      await pool.end();
    }
    return 0;
  } catch (err) {
    const { body } = errorBody(err);
    log.error('store.cli_failed', { ...body.error, error: err instanceof InfralogsError ? undefined : err });
    return 1;
  }
}

// Run only when started as this file: in a bundle every module shares import.meta.url.
if (process.argv[1] && /[\\/]store[\\/]cli\.[tj]s$/.test(process.argv[1])) process.exitCode = await main();
