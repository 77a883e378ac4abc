import type { Pool } from 'mysql2/promise';
import { InfralogsError } from '../errors';
import type { HostResult, RunOutcome } from '../host-result';
import { execute, inTransaction, select, type Queryable } from './sql';

/**
 * Collection runs. cron-connector fires overlapping calls, so a run holds the `collect` row of
 * run_lock: beginRun refuses while the lock is held and unexpired. The lock is short (`lockMs`)
 * and its holder renews it while alive (renewRunLock, every third of it; each recorded host
 * result renews it too), so a holder that is gone — killed, cut off, or unable to close its run
 * because the primary stayed away — blocks the next run for at most one lock period, not for a
 * whole collection's length. A run cut off by a deploy hands its lock back at once (handBackRun).
 * Either way the next beginRun closes it as aborted with the reason, marks its unfinished hosts
 * failed with RUN_ABORTED, and resumes every host from its checkpoint.
 */
export type RunStatus = 'running' | RunOutcome | 'aborted';
export type HostRunStatus = 'pending' | 'succeeded' | 'failed';

export interface Run {
  id: number;
  trigger: string;
  status: RunStatus;
  startedAt: Date;
  finishedAt: Date | null;
  /** Why the run ended as it did, when not by itself (aborted: handed back, or its lock expired). */
  reason: string | null;
  hosts: (HostResult & { status: HostRunStatus })[];
}

const LOCK = 'collect';
export const DEFAULT_LOCK_MS = 60_000;
/** The error code of a host an aborted run left unfinished; the next run pulls it. */
export const RUN_ABORTED = 'RUN_ABORTED';
const HANDED_BACK = 'handed back while draining (SIGTERM)';
const LOCK_EXPIRED = 'its collect stopped renewing the run lock (killed, or could not close the run)';

export async function beginRun(
  pool: Pool,
  options: { trigger: string; hosts: string[]; lockMs?: number },
): Promise<{ runId: number; aborted: number[] }> {
  const lockMs = options.lockMs ?? DEFAULT_LOCK_MS;
  if (!Number.isInteger(lockMs) || lockMs < 1000) {
    throw new InfralogsError('BAD_REQUEST', 'lockMs must be an integer >= 1000');
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
    // The lock is free or expired, so no run is still going: every unfinished one was cut off.
    const aborted = (await select<{ id: number }>(conn, `SELECT id FROM runs WHERE status = 'running'`)).map(
      (r) => Number(r.id),
    );
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
    if (aborted.length > 0) {
      // A handed-back run says so already (handBackRun); any other was left by a holder now gone.
      await execute(
        conn,
        `UPDATE runs SET status = 'aborted', finished_at = UTC_TIMESTAMP(6), reason = COALESCE(reason, ?)
          WHERE id IN (?)`,
        [LOCK_EXPIRED, aborted],
      );
      await execute(
        conn,
        `UPDATE run_hosts h JOIN runs r ON r.id = h.run_id
            SET h.status = 'failed', h.error_code = ?, h.finished_at = UTC_TIMESTAMP(6),
                h.error_message = CONCAT('the run was aborted before this host finished (', r.reason,
                  '); run ', ?, ' resumes it from its checkpoint')
          WHERE h.run_id IN (?) AND h.status = 'pending'`,
        [RUN_ABORTED, runId, aborted],
      );
    }
    await execute(
      conn,
      `UPDATE run_lock SET run_id = ?, expires_at = DATE_ADD(UTC_TIMESTAMP(6), INTERVAL ? MICROSECOND) WHERE name = ?`,
      [runId, lockMs * 1000, LOCK],
    );
    return { runId, aborted };
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

/**
 * Renews the run lock while its run goes on; false when the run no longer holds it (handed back,
 * or it expired and another run took over: this one must not go on as if it held it).
 */
export async function renewRunLock(pool: Pool, runId: number): Promise<boolean> {
  const { affectedRows } = await execute(
    pool,
    `UPDATE run_lock l JOIN runs r ON r.id = l.run_id
        SET l.expires_at = DATE_ADD(UTC_TIMESTAMP(6), INTERVAL r.lock_ms * 1000 MICROSECOND)
      WHERE l.name = ? AND l.run_id = ?`,
    [LOCK, runId],
  );
  return affectedRows > 0;
}

/**
 * Ends a run with its status (and why, when it did not end by itself) and releases the run lock
 * if this run still holds it. Safe to repeat.
 */
export async function finishRun(
  pool: Pool,
  runId: number,
  options: { status: RunOutcome; reason?: string },
): Promise<void> {
  await inTransaction(pool, async (conn) => {
    const { affectedRows } = await execute(
      conn,
      'UPDATE runs SET status = ?, finished_at = UTC_TIMESTAMP(6), reason = ? WHERE id = ?',
      [options.status, options.reason?.slice(0, 255) ?? null, runId],
    );
    if (affectedRows === 0) throw new InfralogsError('NOT_FOUND', `run ${runId} does not exist`);
    await execute(
      conn,
      'UPDATE run_lock SET run_id = NULL, expires_at = NULL WHERE name = ? AND run_id = ?',
      [LOCK, runId],
    );
  });
}

/**
 * A run cut off by SIGTERM gives its run lock back without an end status, so the next call need
 * not wait for the lock to expire: that call marks the run aborted (beginRun).
 */
export async function handBackRun(pool: Pool, runId: number): Promise<void> {
  await inTransaction(pool, async (conn) => {
    await execute(conn, `UPDATE runs SET reason = ? WHERE id = ? AND status = 'running'`, [
      HANDED_BACK,
      runId,
    ]);
    await execute(
      conn,
      'UPDATE run_lock SET run_id = NULL, expires_at = NULL WHERE name = ? AND run_id = ?',
      [LOCK, runId],
    );
  });
}

export async function getRun(db: Queryable, runId: number): Promise<Run | null> {
  const [run] = await select<Omit<Run, 'hosts'>>(
    db,
    `SELECT id, triggered_by AS \`trigger\`, status, started_at AS startedAt, finished_at AS finishedAt, reason
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
