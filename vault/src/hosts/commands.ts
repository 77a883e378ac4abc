import { X509Certificate } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Pool } from 'mysql2/promise';
import {
  agentTokenPath,
  getHost,
  hostHasEntries,
  hostStatuses,
  InfralogsError,
  listHosts,
  removeHost,
  setHostEnabled,
  upsertHost,
  type Host,
  type HostSettings,
} from '@infralogs/core';
import type { VaultClient } from '@infralogs/vault-mysql-rotator';
import { newAgentToken, retireAgentTokens, rotateAgentToken } from '../agent-tokens';
import { writeFileAtomic } from '../files';
import { issueAgentCertificate, readPkiCa, writeAgentCertificate } from '../pki';
import type { InventoryHost } from './inventory';
import { assertHost } from './validate';

/**
 * The operator's host commands, on the primary (migrator credentials) and Vault (KV for agent
 * tokens, PKI for agent certificates). Each is idempotent: run twice, the second run changes
 * nothing. What is done goes to `out` (stdout); progress of long work to `progress` (stderr).
 * An agent token is written to the agent's tokens file, or printed once when no file is given;
 * it never reaches a log.
 */
export interface HostsContext {
  pool: Pool;
  vault: VaultClient;
  kvMount: string;
  pki: { mount: string; role: string };
  out: (line: string) => void;
  progress: (line: string) => void;
}

export interface AddOptions {
  name: string;
  url: string;
  enabled?: boolean;
  insecure?: boolean;
  /** PEM of this host's own CA bundle. */
  ca?: string | null;
  /** Where the agent reads its tokens; the token is printed once when absent. */
  tokensFile?: string;
  /** Issue the agent's certificate from Vault PKI into these files. */
  issueCert?: { certFile: string; keyFile: string };
}

const settingsOf = (o: AddOptions): HostSettings => ({
  name: o.name,
  agentUrl: o.url,
  enabled: o.enabled ?? true,
  insecure: o.insecure ?? false,
  agentCa: o.ca ?? null,
});

const sameHost = (h: Host | null, s: HostSettings) =>
  h !== null &&
  h.agentUrl === s.agentUrl &&
  h.enabled === s.enabled &&
  h.insecure === s.insecure &&
  (h.agentCa ?? null) === (s.agentCa ?? null);

/** Registers a host, gives it a token (KV, and its tokens file) and optionally its certificate. */
export async function addHost(ctx: HostsContext, o: AddOptions): Promise<{ changed: string[] }> {
  assertHost(o.name, o.url, o.insecure ?? false);
  const changed: string[] = [];
  if (await ensureToken(ctx, o.name, o.tokensFile)) changed.push('token');
  if (o.issueCert && (await ensureCertificate(ctx, o.name, o.url, o.issueCert))) changed.push('certificate');
  const settings = settingsOf(o);
  if (!sameHost(await getHost(ctx.pool, o.name), settings)) {
    await upsertHost(ctx.pool, settings);
    changed.push('host');
  }
  ctx.out(
    changed.length === 0
      ? `${o.name}: unchanged`
      : `${o.name}: ${changed.join(', ')} ${changed.includes('host') ? 'registered' : 'written'} (${o.url})`,
  );
  return { changed };
}

/** KV's token for the host, created when absent; the tokens file is made to hold it. */
async function ensureToken(
  ctx: HostsContext,
  host: string,
  tokensFile: string | undefined,
): Promise<boolean> {
  const path = agentTokenPath(ctx.kvMount, host);
  const current = (await ctx.vault.readIfExists<{ data?: { token?: string } }>(path))?.data?.data?.token;
  if (current) {
    if (!tokensFile) return false;
    const lines = (await readFile(tokensFile, 'utf8').catch(() => '')).split('\n').map((l) => l.trim());
    if (lines.includes(current)) return false;
    await mkdir(dirname(tokensFile), { recursive: true, mode: 0o700 });
    await writeFileAtomic(tokensFile, [...lines.filter(Boolean), current].join('\n') + '\n');
    return true;
  }
  if (tokensFile) {
    await mkdir(dirname(tokensFile), { recursive: true, mode: 0o700 });
    await rotateAgentToken({ host, tokensFile, vault: ctx.vault, kvMount: ctx.kvMount });
    return true;
  }
  const token = newAgentToken();
  await ctx.vault.write(path, { data: { token } });
  // Printed once, for the operator to put into the agent's tokens file; kept only in KV.
  ctx.out(`${host}: agent token (put it in the agent's tokens file; it is not shown again): ${token}`);
  return true;
}

/** A current certificate (issued by today's CA, for this URL, valid 7 more days) is kept. */
const RENEW_BEFORE_MS = 7 * 24 * 3600_000;

async function ensureCertificate(
  ctx: HostsContext,
  host: string,
  url: string,
  files: { certFile: string; keyFile: string },
): Promise<boolean> {
  const ca = await readPkiCa(ctx.vault, ctx.pki.mount);
  if (!ca) throw new InfralogsError('CONFIG_INVALID', `${ctx.pki.mount} has no CA: run the bootstrap first`);
  const existing = await readFile(files.certFile, 'utf8').catch(() => null);
  if (
    existing &&
    (await readFile(files.keyFile).catch(() => null)) &&
    certificateCurrent(existing, ca, url)
  ) {
    return false;
  }
  const cert = await issueAgentCertificate(ctx.vault, { ...ctx.pki, host, agentUrl: url });
  await writeAgentCertificate(cert, files);
  ctx.progress(
    `${host}: certificate issued by ${ctx.pki.mount}, valid until ${new Date(cert.expiration * 1000).toISOString()}`,
  );
  return true;
}

function certificateCurrent(pem: string, caPem: string, url: string): boolean {
  try {
    const cert = new X509Certificate(pem);
    const name = new URL(url).hostname.replace(/^\[|\]$/g, '');
    const forName = /^[\d.]+$/.test(name) || name.includes(':') ? cert.checkIP(name) : cert.checkHost(name);
    return (
      cert.checkIssued(new X509Certificate(caPem)) &&
      forName !== undefined &&
      Date.parse(cert.validTo) - Date.now() > RENEW_BEFORE_MS
    );
  } catch {
    return false;
  }
}

const ago = (d: Date | null) => {
  if (!d) return '-';
  const s = Math.max(0, Math.round((Date.now() - d.getTime()) / 1000));
  return s < 120
    ? `${s}s`
    : s < 7200
      ? `${Math.round(s / 60)}m`
      : s < 172800
        ? `${Math.round(s / 3600)}h`
        : `${Math.round(s / 86400)}d`;
};

/** A table: name, URL, enabled, newest entry and its lag, last run's status and error, gaps. */
export async function listCommand(ctx: HostsContext, options: { json?: boolean } = {}): Promise<void> {
  const statuses = await hostStatuses(ctx.pool);
  if (options.json) {
    ctx.out(
      JSON.stringify(
        statuses.map(({ agentCa, ...s }) => ({ ...s, ownCa: agentCa !== null })),
        null,
        2,
      ),
    );
    return;
  }
  const rows = statuses.map((s) => [
    s.name,
    s.agentUrl + (s.insecure ? ' (insecure)' : ''),
    s.enabled ? 'yes' : 'no',
    s.newestEntry ? s.newestEntry.toISOString().replace(/\.\d+Z$/, 'Z') : '-',
    ago(s.newestEntry),
    s.lastRun ? `${s.lastRun.status} (run ${s.lastRun.runId})` : '-',
    s.lastRun?.error?.slice(0, 80) ?? '',
    String(s.gaps),
  ]);
  const header = ['NAME', 'URL', 'ENABLED', 'NEWEST ENTRY', 'LAG', 'LAST RUN', 'ERROR', 'GAPS'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  for (const r of [header, ...rows])
    ctx.out(
      r
        .map((c, i) => c.padEnd(widths[i]!))
        .join('  ')
        .trimEnd(),
    );
  if (rows.length === 0) ctx.out('(no hosts: add one with `npm run hosts -- add NAME URL`)');
}

export async function setEnabled(ctx: HostsContext, name: string, enabled: boolean): Promise<void> {
  if (!(await getHost(ctx.pool, name))) throw new InfralogsError('NOT_FOUND', `unknown host "${name}"`);
  const changed = await setHostEnabled(ctx.pool, name, enabled);
  ctx.out(`${name}: ${changed ? '' : 'already '}${enabled ? 'enabled' : 'disabled'}`);
}

/** Step 1 adds a new token (file, then KV); step 2 (`retire`) drops every other one from the file. */
export async function rotateToken(
  ctx: HostsContext,
  name: string,
  tokensFile: string,
  retire: boolean,
): Promise<void> {
  const target = { host: name, tokensFile, vault: ctx.vault, kvMount: ctx.kvMount };
  if (retire) {
    const { removed } = await retireAgentTokens(target);
    ctx.out(`${name}: retired ${removed} old token(s) from ${tokensFile}`);
  } else {
    const { kvVersion, fileEntries } = await rotateAgentToken(target);
    ctx.out(
      `${name}: new token in ${tokensFile} (${fileEntries} valid now) and KV (version ${kvVersion}); ` +
        'retire the old one with --retire once fetch-host uses the new one',
    );
  }
}

/** Unregisters a host and deletes its token from KV; its rows only with `purge`. */
export async function removeCommand(ctx: HostsContext, name: string, purge: boolean): Promise<boolean> {
  const removed = await removeHost(ctx.pool, name, {
    purge,
    onProgress: (deleted) => ctx.progress(`${name}: ${deleted} entries deleted…`),
  });
  if (removed === null) {
    ctx.out(`${name}: no such host`);
    return false;
  }
  await ctx.vault.delete(agentTokenPath(ctx.kvMount, name).replace('/data/', '/metadata/'));
  ctx.out(
    `${name}: removed${removed.deleted ? ` with its ${removed.deleted} entries` : ''}; its token is deleted from KV`,
  );
  return true;
}

export interface SyncOptions {
  apply: boolean;
  purge: boolean;
  /** Tokens of new hosts go to `<dir>/<name>/tokens`; printed once when absent. */
  tokensDir?: string;
}

/** One line of the plan: what sync does (or would do) to a host. */
export interface SyncChange {
  host: string;
  action: 'add' | 'update' | 'remove' | 'disable' | 'keep';
  detail: string;
}

/**
 * Makes the hosts table match the inventory: adds and updates hosts; a host absent from the file
 * is removed when it has no entries, or with `purge`; without it, a host with entries is disabled
 * and kept (sync never deletes data unless told). Prints the plan; changes only with `apply`.
 */
export async function syncCommand(
  ctx: HostsContext,
  inventory: InventoryHost[],
  options: SyncOptions,
): Promise<SyncChange[]> {
  const plan = await syncPlan(ctx, inventory, options.purge);
  const verb = options.apply ? '' : '(dry run) ';
  for (const c of plan) ctx.out(`${verb}${c.action.padEnd(7)} ${c.host}: ${c.detail}`);
  if (plan.every((c) => c.action === 'keep')) ctx.out('the hosts already match the inventory: nothing to do');
  else if (!options.apply) ctx.out('nothing changed: run again with --apply to make these changes');
  if (!options.apply) return plan;
  const wanted = new Map(inventory.map((h) => [h.name, h]));
  for (const c of plan) {
    const h = wanted.get(c.host);
    if (c.action === 'add' || c.action === 'update') {
      const tokensFile = options.tokensDir ? join(options.tokensDir, c.host, 'tokens') : undefined;
      await addHost(ctx, {
        name: h!.name,
        url: h!.url,
        enabled: h!.enabled,
        insecure: h!.insecure,
        ca: h!.ca,
        ...(tokensFile ? { tokensFile } : {}),
      });
    } else if (c.action === 'remove') await removeCommand(ctx, c.host, options.purge);
    else if (c.action === 'disable') await setEnabled(ctx, c.host, false);
  }
  return plan;
}

async function syncPlan(
  ctx: HostsContext,
  inventory: InventoryHost[],
  purge: boolean,
): Promise<SyncChange[]> {
  const stored = new Map((await listHosts(ctx.pool)).map((h) => [h.name, h]));
  const plan: SyncChange[] = [];
  for (const h of inventory) {
    const current = stored.get(h.name) ?? null;
    const settings = settingsOf({
      name: h.name,
      url: h.url,
      enabled: h.enabled,
      insecure: h.insecure,
      ca: h.ca,
    });
    const hasToken = await ctx.vault.readIfExists(agentTokenPath(ctx.kvMount, h.name));
    if (!current)
      plan.push({ host: h.name, action: 'add', detail: `${h.url}${h.enabled ? '' : ' (disabled)'}` });
    else if (!sameHost(current, settings) || !hasToken)
      plan.push({
        host: h.name,
        action: 'update',
        detail: describeUpdate(current, settings, Boolean(hasToken)),
      });
    else plan.push({ host: h.name, action: 'keep', detail: 'as in the inventory' });
  }
  const names = new Set(inventory.map((h) => h.name));
  for (const [name, host] of stored) {
    if (names.has(name)) continue;
    const hasEntries = await hostHasEntries(ctx.pool, host.id);
    if (!hasEntries || purge)
      plan.push({
        host: name,
        action: 'remove',
        detail: hasEntries ? 'not in the inventory; its entries are purged' : 'not in the inventory',
      });
    else if (host.enabled)
      plan.push({
        host: name,
        action: 'disable',
        detail: 'not in the inventory; has entries, kept disabled (--purge deletes them)',
      });
    else
      plan.push({
        host: name,
        action: 'keep',
        detail: 'not in the inventory; disabled, entries kept (--purge deletes them)',
      });
  }
  return plan;
}

function describeUpdate(h: Host, s: HostSettings, hasToken: boolean): string {
  const parts: string[] = [];
  if (h.agentUrl !== s.agentUrl) parts.push(`url ${h.agentUrl} -> ${s.agentUrl}`);
  if (h.enabled !== s.enabled) parts.push(s.enabled ? 'enable' : 'disable');
  if (h.insecure !== s.insecure) parts.push(s.insecure ? 'mark insecure' : 'require https');
  if ((h.agentCa ?? null) !== (s.agentCa ?? null))
    parts.push(s.agentCa ? 'own CA bundle' : 'fleet CA bundle');
  if (!hasToken) parts.push('create its agent token');
  return parts.join(', ');
}
