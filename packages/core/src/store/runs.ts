import type { Pool } from 'mysql2/promise';
import { InfralogsError } from '../errors';
import type { HostResult, RunOutcome } from '../host-result';
import { execute, inTransaction, select, type Queryable } from './sql';

/**
 * Collection runs. cron-connector fires overlapping calls, so a run holds the `collect` row of
 * run_lock: beginRun refuses while the lock is held and unexpired. Every recorded host result
 * extends the lock; a crashed run's lock expires after staleAfterMs and the next run marks it
 * abandoned.
 */
export type RunStatus = 'running' | RunOutcome | 'abandoned';
export type HostRunStatus = 'pending' | 'succeeded' | 'failed';

export interface Run {
  id: number;
  trigger: string;
  status: RunStatus;
  startedAt: Date;
  finishedAt: Date | null;
  hosts: (HostResult & { status: HostRunStatus })[];
}

const LOCK = 'collect';
export const DEFAULT_STALE_AFTER_MS = 10 * 60_000;

export async function beginRun(
  pool: Pool,
  options: { trigger: string; hosts: string[]; staleAfterMs?: number },
): Promise<{ runId: number }> {
  const lockMs = options.staleAfterMs ?? DEFAULT_STALE_AFTER_MS;
  if (!Number.isInteger(lockMs) || lockMs < 1000) {
    throw new InfralogsError('BAD_REQUEST', 'staleAfterMs must be an integer >= 1000');
  }
  return inTransaction(pool, async (conn) => {
    const [lock] = await select<{ runId: number | null; live: number | null }>(
      conn,
      `SELECT run_id AS runId, expires_at > UTC_TIMESTAMP(6) AS live FROM run_lock WHERE name = ? FOR UPDATE`,
      [LOCK],
    );
    if (!lock) throw new InfralogsError('CONFIG_INVALID', 'run_lock row missing: run migrate');
    if (lock.runId !== null && Number(lock.live) === 1) {
      throw new InfralogsError('CONFLICT', `run ${lock.runId} is still active`, {
        details: { activeRunId: Number(lock.runId) },
      });
    }
    if (lock.runId !== null) {
      await execute(
        conn,
        `UPDATE runs SET status = 'abandoned', finished_at = UTC_TIMESTAMP(6) WHERE id = ? AND status = 'running'`,
        [lock.runId],
      );
    }
    const { insertId: runId } = await execute(
      conn,
      `INSERT INTO runs (triggered_by, status, lock_ms, started_at) VALUES (?, 'running', ?, UTC_TIMESTAMP(6))`,
      [options.trigger.slice(0, 64), lockMs],
    );
    const hosts = [...new Set(options.hosts)];
    if (hosts.length > 0) {
      await execute(conn, 'INSERT INTO run_hosts (run_id, host, status) VALUES ?', [
        hosts.map((h) => [runId, h, 'pending']),
      ]);
    }
    await execute(
      conn,
      `UPDATE run_lock SET run_id = ?, expires_at = DATE_ADD(UTC_TIMESTAMP(6), INTERVAL ? MICROSECOND) WHERE name = ?`,
      [runId, lockMs * 1000, LOCK],
    );
    return { runId };
  });
}

/** Records (or overwrites) one host's result in a run and extends the run's lock. */
export async function recordHostResult(pool: Pool, runId: number, result: HostResult): Promise<void> {
  await inTransaction(pool, async (conn) => {
    const [run] = await select<{ lockMs: number }>(conn, 'SELECT lock_ms AS lockMs FROM runs WHERE id = ?', [
      runId,
    ]);
    if (!run) throw new InfralogsError('NOT_FOUND', `run ${runId} does not exist`);
    await execute(
      conn,
      `INSERT INTO run_hosts (run_id, host, status, fetched, inserted, duplicates, batches, \`checkpoint\`,
         error_code, error_message, finished_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, UTC_TIMESTAMP(6))
       ON DUPLICATE KEY UPDATE status = VALUES(status), fetched = VALUES(fetched), inserted = VALUES(inserted),
         duplicates = VALUES(duplicates), batches = VALUES(batches), \`checkpoint\` = VALUES(\`checkpoint\`),
         error_code = VALUES(error_code), error_message = VALUES(error_message), finished_at = VALUES(finished_at)`,
      [
        runId,
        result.host,
        result.error === null ? 'succeeded' : 'failed',
        result.fetched,
        result.inserted,
        result.duplicates,
        result.batches,
        result.checkpoint,
        result.error?.code ?? null,
        result.error?.message.slice(0, 2000) ?? null,
      ],
    );
    await execute(
      conn,
      `UPDATE run_lock SET expires_at = DATE_ADD(UTC_TIMESTAMP(6), INTERVAL ? MICROSECOND) WHERE name = ? AND run_id = ?`,
      [run.lockMs * 1000, LOCK, runId],
    );
  });
}

/** Ends a run with its status and releases the run lock if this run still holds it. */
export async function finishRun(pool: Pool, runId: number, options: { status: RunOutcome }): Promise<void> {
  await inTransaction(pool, async (conn) => {
    const { affectedRows } = await execute(
      conn,
      'UPDATE runs SET status = ?, finished_at = UTC_TIMESTAMP(6) WHERE id = ?',
      [options.status, runId],
    );
    if (affectedRows === 0) throw new InfralogsError('NOT_FOUND', `run ${runId} does not exist`);
    await execute(
      conn,
      'UPDATE run_lock SET run_id = NULL, expires_at = NULL WHERE name = ? AND run_id = ?',
      [LOCK, runId],
    );
  });
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
    batches: number | string;
    checkpoint: string | null;
    errorCode: string | null;
    errorMessage: string | null;
  }>(
    db,
    `SELECT host, status, fetched, inserted, duplicates, batches, \`checkpoint\` AS \`checkpoint\`,
            error_code AS errorCode, error_message AS errorMessage
       FROM run_hosts WHERE run_id = ? ORDER BY host`,
    [runId],
  );
  return {
    ...run,
    id: Number(run.id),
    hosts: hosts.map(({ errorCode, errorMessage, ...h }) => ({
      ...h,
      fetched: Number(h.fetched),
      inserted: Number(h.inserted),
      duplicates: Number(h.duplicates),
      batches: Number(h.batches),
      // A host still pending has no result yet; rows written before error_code existed have none.
      error: errorMessage === null ? null : { code: errorCode ?? 'UNKNOWN', message: errorMessage },
    })),
  };
}
