import { select, type Queryable } from '@infralogs/core';
import { ISO_US, listHosts, MAX_HOSTS } from './queries';

/**
 * Collection health, read on the replica like everything else: per host its newest stored entry and
 * how old it is, its checkpoint, its result in the latest run that pulled it, and its recent source
 * gaps with their seqnum ranges; and the replica's lag, told by the heartbeat ingest writes on the
 * primary (`host_activity.beat_at`, the primary's clock at commit): the reader may not run SHOW
 * REPLICA STATUS. now − the newest beat is exact while collections write and an upper bound when
 * nothing was written lately (then `idle` is said).
 */

/** Runs searched for each host's latest result. */
export const RECENT_RUNS = 50;
export const MAX_GAPS = 200;
export const IDLE_SECONDS = 300;

export interface HostHealth {
  name: string;
  enabled: boolean;
  newestEntryAt: string | null;
  /** now − newest entry, seconds (how far behind the journal the store is, at most). */
  lagSeconds: number | null;
  checkpointAt: string | null;
  lastRun: { id: number; status: string; error: string | null; finishedAt: string | null } | null;
  gaps: { seqnumId: string; afterSeqnum: string; beforeSeqnum: string; missing: string; beforeTs: string }[];
}

export interface Health {
  now: string;
  replica: { heartbeatAt: string | null; lagSeconds: number | null; idle: boolean };
  hosts: HostHealth[];
}

export async function readHealth(db: Queryable, now: Date): Promise<Health> {
  const hosts = await listHosts(db);
  const [activity, checkpoints, runs, gaps] = await Promise.all([
    select<{ hostId: number; newest: string | null; beat: string }>(
      db,
      `SELECT host_id AS hostId, DATE_FORMAT(newest_ts, ${ISO_US}) AS newest, DATE_FORMAT(beat_at, ${ISO_US}) AS beat
         FROM host_activity LIMIT ?`,
      [MAX_HOSTS],
    ),
    select<{ hostId: number; at: string | null }>(
      db,
      `SELECT host_id AS hostId, IF(\`cursor\` IS NULL, NULL, DATE_FORMAT(updated_at, ${ISO_US})) AS at
         FROM checkpoints LIMIT ?`,
      [MAX_HOSTS],
    ),
    // The newest runs (the primary key), then each host's latest row among them.
    select<{ runId: number; host: string; status: string; error: string | null; finishedAt: string | null }>(
      db,
      `SELECT rh.run_id AS runId, rh.host, rh.status, rh.error_message AS error,
              DATE_FORMAT(rh.finished_at, ${ISO_US}) AS finishedAt
         FROM (SELECT id FROM runs ORDER BY id DESC LIMIT ?) r JOIN run_hosts rh ON rh.run_id = r.id
        ORDER BY rh.run_id DESC LIMIT ?`,
      [RECENT_RUNS, RECENT_RUNS * MAX_HOSTS],
    ),
    select<{
      hostId: number;
      seqnumId: string;
      afterSeqnum: string;
      beforeSeqnum: string;
      missing: string;
      beforeTs: string;
    }>(
      db,
      `SELECT host_id AS hostId, LOWER(HEX(seqnum_id)) AS seqnumId, CAST(after_seqnum AS CHAR) AS afterSeqnum,
              CAST(before_seqnum AS CHAR) AS beforeSeqnum, CAST(missing AS CHAR) AS missing,
              DATE_FORMAT(before_ts, ${ISO_US}) AS beforeTs
         FROM gaps FORCE INDEX (ix_gaps_before) ORDER BY before_ts DESC LIMIT ?`,
      [MAX_GAPS],
    ),
  ]);
  const seconds = (iso: string | null) =>
    iso === null ? null : Math.max(0, Math.round((now.getTime() - Date.parse(iso)) / 1000));
  const act = new Map(activity.map((a) => [a.hostId, a]));
  const cp = new Map(checkpoints.map((c) => [c.hostId, c.at]));
  const lastRun = new Map<string, (typeof runs)[number]>();
  for (const r of runs) if (!lastRun.has(r.host)) lastRun.set(r.host, r);
  const heartbeat = activity.reduce<string | null>((m, a) => (m === null || a.beat > m ? a.beat : m), null);
  const lag = seconds(heartbeat);
  return {
    now: now.toISOString(),
    // Without a write for 5 minutes the beat's age bounds the lag but no longer measures it.
    replica: { heartbeatAt: heartbeat, lagSeconds: lag, idle: lag === null || lag > IDLE_SECONDS },
    hosts: hosts.map((h) => {
      const run = lastRun.get(h.name);
      const newest = act.get(h.id)?.newest ?? null;
      return {
        name: h.name,
        enabled: h.enabled,
        newestEntryAt: newest,
        lagSeconds: seconds(newest),
        checkpointAt: cp.get(h.id) ?? null,
        lastRun: run
          ? { id: run.runId, status: run.status, error: run.error, finishedAt: run.finishedAt }
          : null,
        gaps: gaps
          .filter((g) => g.hostId === h.id)
          .map((g) => ({
            seqnumId: g.seqnumId,
            afterSeqnum: g.afterSeqnum,
            beforeSeqnum: g.beforeSeqnum,
            missing: g.missing,
            beforeTs: g.beforeTs,
          })),
      };
    }),
  };
}
