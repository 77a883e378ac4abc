/**
 * `npm run hosts -- <verb>` (and `hosts <verb>` in the admin image): the operator's commands for
 * the fleet. Run `npm run hosts -- help` for the verbs.
 *
 * Access: an operator's Vault token (VAULT_TOKEN_FILE, preferred, or VAULT_TOKEN) carrying the
 * `<prefix>-migrator` and `<prefix>-agent-tokens` policies. The database is reached with migrator
 * credentials leased from Vault for this one command and revoked when it ends: no standing
 * password anywhere. Agent tokens go to KV (and the agent's tokens file); certificates come from
 * Vault's PKI engine.
 */
import { readFile } from 'node:fs/promises';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { z } from 'zod';
import { createStorePool, env as field, errorBody, InfralogsError, loadConfig } from '@infralogs/core';
import { VaultClient } from '@infralogs/vault-mysql-rotator';
import { resolveNames } from '../names';
import {
  addHost,
  listCommand,
  removeCommand,
  rotateToken,
  setEnabled,
  syncCommand,
  type HostsContext,
} from './commands';
import { readInventory } from './inventory';

export const HOSTS_USAGE = `usage: npm run hosts -- <verb> [options]

  add NAME URL [--tokens-file FILE] [--issue-cert --cert-file FILE --key-file FILE]
               [--insecure] [--ca-file FILE] [--disabled]
                        register a host (https:// agent URL), create its token in KV and write it
                        to the agent's tokens file (printed once without --tokens-file)
  list [--json]         every host: URL, enabled, newest entry, lag, last run, error, gaps
  enable NAME | disable NAME
  rotate-token NAME --tokens-file FILE [--retire]
                        add a new token (file, then KV); --retire drops the others afterwards
  remove NAME [--purge] unregister; refuses while the host has entries unless --purge
  sync FILE [--apply] [--purge] [--tokens-dir DIR]
                        make the hosts match a YAML inventory (prints the difference first)

environment: VAULT_ADDR, VAULT_TOKEN_FILE (or VAULT_TOKEN), DB_HOST, DB_PORT, DB_NAME,
  INFRALOGS_VAULT_PREFIX, VAULT_DB_MOUNT, VAULT_KV_MOUNT, VAULT_PKI_MOUNT`;

const configSchema = z.object({
  VAULT_ADDR: field.url('http://127.0.0.1:8200'),
  VAULT_TOKEN_FILE: z.string().min(1).optional(),
  VAULT_TOKEN: z.string().min(1).optional(),
  VAULT_DB_MOUNT: field.str('database'),
  VAULT_KV_MOUNT: field.str('infralogs-kv'),
  VAULT_PKI_MOUNT: field.str('infralogs-pki'),
  INFRALOGS_VAULT_PREFIX: field.str('infralogs'),
  DB_HOST: field.str('127.0.0.1'),
  DB_PORT: field.port(3306),
  DB_NAME: field.str('infralogs'),
});

const VERB_OPTIONS: Record<string, { positionals: number; options: ParseArgsConfig['options'] }> = {
  add: {
    positionals: 2,
    options: {
      'tokens-file': { type: 'string' },
      'issue-cert': { type: 'boolean' },
      'cert-file': { type: 'string' },
      'key-file': { type: 'string' },
      insecure: { type: 'boolean' },
      'ca-file': { type: 'string' },
      disabled: { type: 'boolean' },
    },
  },
  list: { positionals: 0, options: { json: { type: 'boolean' } } },
  enable: { positionals: 1, options: {} },
  disable: { positionals: 1, options: {} },
  'rotate-token': {
    positionals: 1,
    options: { 'tokens-file': { type: 'string' }, retire: { type: 'boolean' } },
  },
  remove: { positionals: 1, options: { purge: { type: 'boolean' } } },
  sync: {
    positionals: 1,
    options: { apply: { type: 'boolean' }, purge: { type: 'boolean' }, 'tokens-dir': { type: 'string' } },
  },
};

type Values = Record<string, string | boolean | undefined>;

function parseVerb(argv: string[]): { verb: string; args: string[]; values: Values } {
  const [verb, ...rest] = argv;
  const spec = verb ? VERB_OPTIONS[verb] : undefined;
  if (!verb || !spec)
    throw new InfralogsError('BAD_REQUEST', verb ? `unknown verb "${verb}"` : 'no verb given');
  let parsed;
  try {
    parsed = parseArgs({ args: rest, options: spec.options ?? {}, allowPositionals: true, strict: true });
  } catch (err) {
    throw new InfralogsError('BAD_REQUEST', `${verb}: ${(err as Error).message}`);
  }
  if (parsed.positionals.length !== spec.positionals) {
    throw new InfralogsError(
      'BAD_REQUEST',
      `${verb} takes ${spec.positionals} argument(s), got ${parsed.positionals.length}`,
    );
  }
  return { verb, args: parsed.positionals, values: parsed.values as Values };
}

const str = (v: Values, key: string) => (typeof v[key] === 'string' ? (v[key] as string) : undefined);

async function run(ctx: HostsContext, verb: string, args: string[], v: Values): Promise<void> {
  switch (verb) {
    case 'add': {
      const certFile = str(v, 'cert-file');
      const keyFile = str(v, 'key-file');
      if (v['issue-cert'] && (!certFile || !keyFile)) {
        throw new InfralogsError('BAD_REQUEST', 'add --issue-cert needs --cert-file and --key-file');
      }
      const caFile = str(v, 'ca-file');
      const tokensFile = str(v, 'tokens-file');
      await addHost(ctx, {
        name: args[0]!,
        url: args[1]!,
        enabled: !v.disabled,
        insecure: Boolean(v.insecure),
        ca: caFile ? (await readFile(caFile, 'utf8')).trim() : null,
        ...(tokensFile ? { tokensFile } : {}),
        ...(v['issue-cert'] ? { issueCert: { certFile: certFile!, keyFile: keyFile! } } : {}),
      });
      return;
    }
    case 'list':
      return listCommand(ctx, { json: Boolean(v.json) });
    case 'enable':
    case 'disable':
      return setEnabled(ctx, args[0]!, verb === 'enable');
    case 'rotate-token': {
      const tokensFile = str(v, 'tokens-file');
      if (!tokensFile) throw new InfralogsError('BAD_REQUEST', 'rotate-token needs --tokens-file FILE');
      return rotateToken(ctx, args[0]!, tokensFile, Boolean(v.retire));
    }
    case 'remove':
      await removeCommand(ctx, args[0]!, Boolean(v.purge));
      return;
    case 'sync': {
      const tokensDir = str(v, 'tokens-dir');
      await syncCommand(ctx, await readInventory(args[0]!), {
        apply: Boolean(v.apply),
        purge: Boolean(v.purge),
        ...(tokensDir ? { tokensDir } : {}),
      });
      return;
    }
  }
}

export interface HostsCliIo {
  out: (line: string) => void;
  err: (line: string) => void;
}

const stdio: HostsCliIo = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
};

/** Runs one verb; returns the exit code (0 done, 1 failed, 2 bad usage). Errors are one line on stderr. */
export async function runHostsCli(
  argv: string[],
  environment: Record<string, string | undefined> = process.env,
  io: HostsCliIo = stdio,
): Promise<number> {
  if (argv.length === 0 || ['help', '--help', '-h'].includes(argv[0]!)) {
    io.out(HOSTS_USAGE);
    return argv.length === 0 ? 2 : 0;
  }
  let parsed;
  try {
    parsed = parseVerb(argv);
  } catch (err) {
    io.err(`hosts: ${(err as Error).message}\n${HOSTS_USAGE}`);
    return 2;
  }
  try {
    const c = loadConfig(configSchema, environment);
    const token = c.VAULT_TOKEN_FILE ? (await readFile(c.VAULT_TOKEN_FILE, 'utf8')).trim() : c.VAULT_TOKEN;
    if (!token) throw new InfralogsError('CONFIG_INVALID', 'set VAULT_TOKEN_FILE (preferred) or VAULT_TOKEN');
    const vault = new VaultClient({ addr: c.VAULT_ADDR, token });
    const names = resolveNames(c.INFRALOGS_VAULT_PREFIX, {
      database: c.VAULT_DB_MOUNT,
      kv: c.VAULT_KV_MOUNT,
      pki: c.VAULT_PKI_MOUNT,
    });
    const lease = await vault.readCredentials(`${names.mounts.database}/creds/${names.migrator}`);
    const pool = createStorePool({
      host: c.DB_HOST,
      port: c.DB_PORT,
      database: c.DB_NAME,
      user: lease.data.username,
      password: lease.data.password,
      connectionLimit: 2,
    });
    try {
      const ctx: HostsContext = {
        pool,
        vault,
        kvMount: names.mounts.kv,
        pki: { mount: names.mounts.pki, role: names.agentCert },
        out: io.out,
        progress: io.err,
      };
      await run(ctx, parsed.verb, parsed.args, parsed.values);
    } finally {
      await pool.end();
      // The migrator user is dropped now rather than at the end of its TTL.
      await vault.revokeLease(lease.leaseId).catch(() => undefined);
    }
    return 0;
  } catch (err) {
    const { body } = errorBody(err);
    const code = (err as { code?: unknown }).code;
    const message = err instanceof InfralogsError ? err.message : ((err as Error)?.message ?? String(err));
    io.err(`hosts ${parsed.verb}: ${typeof code === 'string' ? code : body.error.code}: ${message}`);
    return 1;
  }
}
