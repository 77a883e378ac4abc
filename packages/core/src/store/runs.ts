import type { Pool } from 'mysql2/promise';
import { InfralogsError } from '../errors';
import { execute, inTransaction, select, type Queryable } from './sql';

/**
 * Collection runs. cron-connector fires overlapping calls, so a run holds the `collect` lease row:
 * beginRun refuses while the lease is held and unexpired. Every recorded host result renews the
 * lease. A run cut off by a deploy hands its lease back (handBackRun); a crashed one's lease expires
 * after staleAfterMs. Either way the next beginRun marks it aborted, and that run resumes every host
 * from its checkpoint.
 */
export type RunStatus = 'running' | 'succeeded' | 'failed' | 'partial' | 'aborted';
export type HostRunStatus = 'pending' | 'succeeded' | 'failed';

export interface HostRunResult {
  host: string;
  fetched: number;
  inserted: number;
  duplicates: number;
  /** The checkpoint the host reached in this run. */
  cursor: string | null;
  /** Why the host failed; null when it succeeded. */
  error: string | null;
}

export interface Run {
  id: number;
  trigger: string;
  status: RunStatus;
  startedAt: Date;
  finishedAt: Date | null;
  hosts: (HostRunResult & { status: HostRunStatus })[];
}

const LEASE = 'collect';
export const DEFAULT_STALE_AFTER_MS = 10 * 60_000;

export async function beginRun(
  pool: Pool,
  options: { trigger: string; hosts: string[]; staleAfterMs?: number },
): Promise<{ runId: number; aborted: number[] }> {
  const leaseMs = options.staleAfterMs ?? DEFAULT_STALE_AFTER_MS;
  if (!Number.isInteger(leaseMs) || leaseMs < 1000) {
    throw new InfralogsError('BAD_REQUEST', 'staleAfterMs must be an integer >= 1000');
  }
  return inTransaction(pool, async (conn) => {
    const [lease] = await select<{ runId: number | null; live: number | null }>(
      conn,
      `SELECT run_id AS runId, expires_at > UTC_TIMESTAMP(6) AS live FROM run_lease WHERE name = ? FOR UPDATE`,
      [LEASE],
    );
    if (!lease) throw new InfralogsError('CONFIG_INVALID', 'run_lease row missing: run migrate');
    if (lease.runId !== null && Number(lease.live) === 1) {
      throw new InfralogsError('CONFLICT', `run ${lease.runId} is still active`, {
        details: { activeRunId: Number(lease.runId) },
      });
    }
    // The lease is free or expired, so no run is still going: every unfinished one was cut off.
    const aborted = (await select<{ id: number }>(conn, `SELECT id FROM runs WHERE status = 'running'`)).map(
      (r) => Number(r.id),
    );
    if (aborted.length > 0) {
      await execute(
        conn,
        `UPDATE runs SET status = 'aborted', finished_at = UTC_TIMESTAMP(6) WHERE id IN (?)`,
        [aborted],
      );
    }
    const { insertId: runId } = await execute(
      conn,
      `INSERT INTO runs (triggered_by, status, lease_ms, started_at) VALUES (?, 'running', ?, UTC_TIMESTAMP(6))`,
      [options.trigger.slice(0, 64), leaseMs],
    );
    const hosts = [...new Set(options.hosts)];
    if (hosts.length > 0) {
      await execute(conn, 'INSERT INTO run_hosts (run_id, host, status) VALUES ?', [
        hosts.map((h) => [runId, h, 'pending']),
      ]);
    }
    await execute(
      conn,
      `UPDATE run_lease SET run_id = ?, expires_at = DATE_ADD(UTC_TIMESTAMP(6), INTERVAL ? MICROSECOND) WHERE name = ?`,
      [runId, leaseMs * 1000, LEASE],
    );
    return { runId, aborted };
  });
}

/** Records (or overwrites) one host's result in a run and renews the run's lease. */
export async function recordHostResult(pool: Pool, runId: number, result: HostRunResult): Promise<void> {
  await inTransaction(pool, async (conn) => {
    const [run] = await select<{ leaseMs: number }>(
      conn,
      'SELECT lease_ms AS leaseMs FROM runs WHERE id = ?',
      [runId],
    );
    if (!run) throw new InfralogsError('NOT_FOUND', `run ${runId} does not exist`);
    await execute(
      conn,
      `INSERT INTO run_hosts (run_id, host, status, fetched, inserted, duplicates, \`cursor\`, error_message, finished_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, UTC_TIMESTAMP(6))
       ON DUPLICATE KEY UPDATE status = VALUES(status), fetched = VALUES(fetched), inserted = VALUES(inserted),
         duplicates = VALUES(duplicates), \`cursor\` = VALUES(\`cursor\`), error_message = VALUES(error_message),
         finished_at = VALUES(finished_at)`,
      [
        runId,
        result.host,
        result.error === null ? 'succeeded' : 'failed',
        result.fetched,
        result.inserted,
        result.duplicates,
        result.cursor,
        result.error === null ? null : result.error.slice(0, 2000),
      ],
    );
    await execute(
      conn,
      `UPDATE run_lease SET expires_at = DATE_ADD(UTC_TIMESTAMP(6), INTERVAL ? MICROSECOND) WHERE name = ? AND run_id = ?`,
      [run.leaseMs * 1000, LEASE, runId],
    );
  });
}

/** Ends a run with its status and releases the lease if this run still holds it. */
export async function finishRun(
  pool: Pool,
  runId: number,
  options: { status: 'succeeded' | 'failed' | 'partial' },
): Promise<void> {
  await inTransaction(pool, async (conn) => {
    const { affectedRows } = await execute(
      conn,
      'UPDATE runs SET status = ?, finished_at = UTC_TIMESTAMP(6) WHERE id = ?',
      [options.status, runId],
    );
    if (affectedRows === 0) throw new InfralogsError('NOT_FOUND', `run ${runId} does not exist`);
    await execute(
      conn,
      'UPDATE run_lease SET run_id = NULL, expires_at = NULL WHERE name = ? AND run_id = ?',
      [LEASE, runId],
    );
  });
}

/**
 * A run cut off by SIGTERM gives its lease back without an end status, so the next call need not
 * wait for the lease to expire: that call marks the run aborted (beginRun).
 */
export async function handBackRun(pool: Pool, runId: number): Promise<void> {
  await execute(pool, 'UPDATE run_lease SET run_id = NULL, expires_at = NULL WHERE name = ? AND run_id = ?', [
    LEASE,
    runId,
  ]);
}

export async function getRun(db: Queryable, runId: number): Promise<Run | null> {
  const [run] = await select<{
    id: number;
    trigger: string;
    status: RunStatus;
    startedAt: Date;
    finishedAt: Date | null;
  }>(
    db,
    `SELECT id, triggered_by AS \`trigger\`, status, started_at AS startedAt, finished_at AS finishedAt
       FROM runs WHERE id = ?`,
    [runId],
  );
  if (!run) return null;
  const hosts = await select<{
    host: string;
    status: HostRunStatus;
    fetched: number | string;
    inserted: number | string;
    duplicates: number | string;
    cursor: string | null;
    error: string | null;
  }>(
    db,
    `SELECT host, status, fetched, inserted, duplicates, \`cursor\` AS \`cursor\`, error_message AS error
       FROM run_hosts WHERE run_id = ? ORDER BY host`,
    [runId],
  );
  return {
    ...run,
    id: Number(run.id),
    hosts: hosts.map((h) => ({
      ...h,
      fetched: Number(h.fetched),
      inserted: Number(h.inserted),
      duplicates: Number(h.duplicates),
    })),
  };
}
