import { InfralogsError } from '../errors';
import { execute, select, type Queryable } from './sql';

/** A registered host: ingest accepts batches only for these; collect pulls the enabled ones. */
export interface Host {
  id: number;
  name: string;
  agentUrl: string;
  enabled: boolean;
  /** A plain http:// agent URL is allowed (fetch-host refuses one otherwise). */
  insecure: boolean;
  /** CA bundle (PEM) for this host's agent only; null = the bundle fetch-host trusts for all. */
  agentCa: string | null;
}

/** What an operator sets for a host (`hosts add`, `hosts sync`). */
export interface HostSettings {
  name: string;
  agentUrl: string;
  enabled?: boolean;
  insecure?: boolean;
  agentCa?: string | null;
}

interface HostRow {
  id: number;
  name: string;
  agentUrl: string;
  enabled: number;
  insecure: number;
  agentCa: string | null;
}

const COLUMNS = 'id, name, agent_url AS agentUrl, enabled, insecure, agent_ca AS agentCa';
const toHost = (r: HostRow): Host => ({
  id: r.id,
  name: r.name,
  agentUrl: r.agentUrl,
  enabled: Boolean(r.enabled),
  insecure: Boolean(r.insecure),
  agentCa: r.agentCa,
});

/**
 * Registers a host or sets its agent URL, enabled and TLS settings (absent ones take their
 * defaults: enabled, not insecure, no CA of its own); returns it as stored.
 */
export async function upsertHost(db: Queryable, host: HostSettings): Promise<Host> {
  if (!host.name || host.name.length > 255)
    throw new InfralogsError('BAD_REQUEST', 'host name must be 1-255 characters');
  if (!URL.canParse(host.agentUrl))
    throw new InfralogsError('BAD_REQUEST', `agent URL of "${host.name}" is not a URL`);
  await execute(
    db,
    `INSERT INTO hosts (name, agent_url, enabled, insecure, agent_ca, created_at, updated_at)
     VALUES (?, ?, ?, ?, ?, UTC_TIMESTAMP(6), UTC_TIMESTAMP(6))
     ON DUPLICATE KEY UPDATE agent_url = VALUES(agent_url), enabled = VALUES(enabled),
       insecure = VALUES(insecure), agent_ca = VALUES(agent_ca), updated_at = VALUES(updated_at)`,
    [host.name, host.agentUrl, host.enabled === false ? 0 : 1, host.insecure ? 1 : 0, host.agentCa ?? null],
  );
  // The host's checkpoint row exists from the start, so ingest locks a row rather than a gap.
  await execute(
    db,
    'INSERT IGNORE INTO checkpoints (host_id, updated_at) SELECT id, UTC_TIMESTAMP(6) FROM hosts WHERE name = ?',
    [host.name],
  );
  const stored = await getHost(db, host.name);
  if (!stored) throw new InfralogsError('INTERNAL', `host "${host.name}" vanished after upsert`);
  return stored;
}

export async function getHost(db: Queryable, name: string): Promise<Host | null> {
  const [row] = await select<HostRow>(db, `SELECT ${COLUMNS} FROM hosts WHERE name = ?`, [name]);
  return row ? toHost(row) : null;
}

export async function listHosts(db: Queryable, options: { enabledOnly?: boolean } = {}): Promise<Host[]> {
  const where = options.enabledOnly ? 'WHERE enabled = 1' : '';
  const rows = await select<HostRow>(db, `SELECT ${COLUMNS} FROM hosts ${where} ORDER BY name`);
  return rows.map(toHost);
}

export async function setHostEnabled(db: Queryable, name: string, enabled: boolean): Promise<boolean> {
  const { affectedRows } = await execute(
    db,
    'UPDATE hosts SET enabled = ?, updated_at = UTC_TIMESTAMP(6) WHERE name = ? AND enabled <> ?',
    [enabled ? 1 : 0, name, enabled ? 1 : 0],
  );
  return affectedRows > 0;
}

/** A host's collection state for operators (`hosts list`). */
export interface HostStatus extends Host {
  /** The newest stored entry's time (not the checkpoint's: journal order is not time order). */
  newestEntry: Date | null;
  /** The last run that pulled this host: its status and error. */
  lastRun: { runId: number; status: string; error: string | null; finishedAt: Date | null } | null;
  /** Source gaps recorded for the host. */
  gaps: number;
}

/** Every host with its newest entry (MAX over ix_logs_host_ts: one index dive), last run and gaps. */
export async function hostStatuses(db: Queryable): Promise<HostStatus[]> {
  const out: HostStatus[] = [];
  for (const host of await listHosts(db)) {
    const [newest] = await select<{ ts: Date | null }>(
      db,
      'SELECT MAX(ts) AS ts FROM logs WHERE host_id = ?',
      [host.id],
    );
    const [run] = await select<{
      runId: number;
      status: string;
      error: string | null;
      finishedAt: Date | null;
    }>(
      db,
      `SELECT run_id AS runId, status, finished_at AS finishedAt,
              IF(error_message IS NULL, NULL, CONCAT_WS(': ', error_code, error_message)) AS error
       FROM run_hosts WHERE host = ? ORDER BY run_id DESC LIMIT 1`,
      [host.name],
    );
    const [gaps] = await select<{ n: number }>(db, 'SELECT COUNT(*) AS n FROM gaps WHERE host_id = ?', [
      host.id,
    ]);
    out.push({ ...host, newestEntry: newest?.ts ?? null, lastRun: run ?? null, gaps: Number(gaps?.n ?? 0) });
  }
  return out;
}

/** Whether the host has any stored entry (one index dive). */
export async function hostHasEntries(db: Queryable, hostId: number): Promise<boolean> {
  const [row] = await select<{ one: number }>(db, 'SELECT 1 AS one FROM logs WHERE host_id = ? LIMIT 1', [
    hostId,
  ]);
  return row !== undefined;
}

/** Rows deleted per statement by removeHost's purge: short transactions, no long lock on logs. */
export const PURGE_CHUNK_ROWS = 10_000;

/**
 * Unregisters a host. While the host has stored entries this refuses (CONFLICT) unless `purge`,
 * which deletes them in chunks of `chunkRows` (each its own statement), reporting the running
 * total to `onProgress`, then its rollups, gaps, checkpoint and the host itself. Returns the
 * entries deleted, or null when there was no such host.
 */
export async function removeHost(
  db: Queryable,
  name: string,
  options: { purge?: boolean; chunkRows?: number; onProgress?: (deleted: number) => void } = {},
): Promise<{ deleted: number } | null> {
  const host = await getHost(db, name);
  if (!host) return null;
  const [any] = await select<{ one: number }>(db, 'SELECT 1 AS one FROM logs WHERE host_id = ? LIMIT 1', [
    host.id,
  ]);
  if (any && !options.purge) {
    throw new InfralogsError(
      'CONFLICT',
      `host "${name}" has stored entries; removing it would orphan them: add --purge to delete them too`,
    );
  }
  const chunk = options.chunkRows ?? PURGE_CHUNK_ROWS;
  let deleted = 0;
  for (;;) {
    const { affectedRows } = await execute(db, 'DELETE FROM logs WHERE host_id = ? LIMIT ?', [
      host.id,
      chunk,
    ]);
    deleted += affectedRows;
    if (affectedRows > 0) options.onProgress?.(deleted);
    if (affectedRows < chunk) break;
  }
  await execute(db, 'DELETE FROM log_counts_hourly WHERE host_id = ?', [host.id]);
  // gaps and checkpoints go with the host (ON DELETE CASCADE); run history stays, by name.
  await execute(db, 'DELETE FROM hosts WHERE id = ?', [host.id]);
  return { deleted };
}
