import { InfralogsError } from '../errors';
import { execute, select, type Queryable } from './sql';

/** A registered host: ingest accepts batches only for these; collect pulls the enabled ones. */
export interface Host {
  id: number;
  name: string;
  agentUrl: string;
  enabled: boolean;
}

interface HostRow {
  id: number;
  name: string;
  agentUrl: string;
  enabled: number;
}

const COLUMNS = 'id, name, agent_url AS agentUrl, enabled';
const toHost = (r: HostRow): Host => ({
  id: r.id,
  name: r.name,
  agentUrl: r.agentUrl,
  enabled: Boolean(r.enabled),
});

/** Registers a host or updates its agent URL and enabled flag; returns it as stored. */
export async function upsertHost(
  db: Queryable,
  host: { name: string; agentUrl: string; enabled?: boolean },
): Promise<Host> {
  if (!host.name || host.name.length > 255)
    throw new InfralogsError('BAD_REQUEST', 'host name must be 1-255 characters');
  if (!URL.canParse(host.agentUrl))
    throw new InfralogsError('BAD_REQUEST', `agent URL of "${host.name}" is not a URL`);
  await execute(
    db,
    `INSERT INTO hosts (name, agent_url, enabled, created_at, updated_at)
     VALUES (?, ?, ?, UTC_TIMESTAMP(6), UTC_TIMESTAMP(6))
     ON DUPLICATE KEY UPDATE agent_url = VALUES(agent_url), enabled = VALUES(enabled), updated_at = VALUES(updated_at)`,
    [host.name, host.agentUrl, host.enabled === false ? 0 : 1],
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
