import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { createLogger, type RequestLimits } from '@infralogs/core';
import type { Topology } from '@infralogs/devkit';
import { startGateway, type CronJobEntry, type Gateway, type GatewayFunctionOptions } from '../gateway';
import type { Stack } from '../stack-file';
import type { Progress } from './progress';
import { writeSecretsDir } from './secrets';

export interface FunctionSettingsContext {
  topology: Pick<Topology, 'primary' | 'replica'>;
  vaultAddr: string;
  /** Values of stack.yml's secrets (the caller tokens). */
  secrets: Record<string, string>;
  secretsRoot: string;
}

export interface FunctionSettings extends GatewayFunctionOptions {
  env: Record<string, string>;
  secretsDir: string;
  /** The Vault role the function logs in as (its VAULT_DB_ROLE), null when it needs none. */
  vaultRole: string | null;
  /** The caller-token secret files stack.yml lists for it. */
  secretValues: Record<string, string>;
}

/**
 * What each function of stack.yml gets locally instead of its cluster settings: the local MariaDB
 * server its `infralogs.io/db-access` label names, the OpenBao dev server with AppRole login (the
 * cluster uses Kubernetes auth), and a secrets folder with exactly the secrets stack.yml lists
 * (the AppRole ids of its Vault role are added when the functions start).
 */
export function functionSettings(
  stack: Stack,
  context: FunctionSettingsContext,
): Record<string, FunctionSettings> {
  const settings: Record<string, FunctionSettings> = {};
  for (const [name, fn] of Object.entries(stack.functions)) {
    const server =
      fn.labels?.['infralogs.io/db-access'] === 'replica'
        ? context.topology.replica
        : context.topology.primary;
    const vaultRole = fn.environment?.VAULT_DB_ROLE ?? null;
    const secretValues: Record<string, string> = {};
    for (const secret of fn.secrets ?? []) {
      const value = context.secrets[secret];
      if (value === undefined)
        throw new Error(`stack.yml: ${name} needs secret "${secret}", which the local stack does not make`);
      secretValues[secret] = value;
    }
    settings[name] = {
      env: {
        DB_HOST: server.host,
        DB_PORT: String(server.port),
        VAULT_ADDR: context.vaultAddr,
        VAULT_AUTH: 'approle',
      },
      secretsDir: join(context.secretsRoot, name),
      vaultRole,
      secretValues,
    };
  }
  return settings;
}

/**
 * Starts the gateway with every function. The gateway's and the functions' JSON logs go to
 * `logFile`; the functions' warnings and errors also appear as progress lines.
 */
export async function startFunctions(options: {
  stack: Stack;
  settings: Record<string, FunctionSettings>;
  /** Writes `vault-role-id`/`vault-secret-id` of a Vault role into a secrets folder. */
  writeVaultSecrets: (role: string, dir: string) => Promise<void>;
  port: number;
  logFile: string;
  progress: Progress;
  /** Scheduled jobs other than functions (the cluster's CronJobs), ticked with the cron schedules. */
  jobs?: CronJobEntry[];
  /** The gateway server's request limits (tests: short timeouts). */
  requestLimits?: RequestLimits;
  /** Where the functions' bundles go (the gateway runs them as the images do, under plain node). */
  bundleDir?: string;
}): Promise<Gateway> {
  for (const s of Object.values(options.settings)) {
    await writeSecretsDir(s.secretsDir, s.secretValues);
    if (s.vaultRole !== null) await options.writeVaultSecrets(s.vaultRole, s.secretsDir);
  }
  mkdirSync(join(options.logFile, '..'), { recursive: true });
  const functions = Object.fromEntries(
    Object.entries(options.settings).map(([name, s]) => [name, { env: s.env, secretsDir: s.secretsDir }]),
  );
  return startGateway({
    stack: options.stack,
    host: '127.0.0.1',
    port: options.port,
    functions,
    ...(options.jobs ? { jobs: options.jobs } : {}),
    ...(options.requestLimits ? { requestLimits: options.requestLimits } : {}),
    ...(options.bundleDir ? { bundleDir: options.bundleDir } : {}),
    log: createLogger(
      { component: 'gateway' },
      { write: (line) => appendFileSync(options.logFile, `[gateway] ${line}\n`) },
    ),
    output: (fn, line) => {
      appendFileSync(options.logFile, `[${fn}] ${line}\n`);
      const level = /"level":"(warn|error)"/.exec(line)?.[1];
      if (level) options.progress(`${fn} ${level}: ${summarizeLogLine(line)}`);
    },
  });
}

/** `event (message)` of a JSON log line, or the line itself. */
function summarizeLogLine(line: string): string {
  try {
    const record = JSON.parse(line) as { event?: unknown; error?: { message?: unknown } };
    const message = typeof record.error?.message === 'string' ? ` (${record.error.message})` : '';
    return `${String(record.event)}${message}`;
  } catch {
    return line;
  }
}
