import { env, loadConfig } from '@infralogs/core';
import { z } from 'zod';

/** collect's environment; defaults suit the local stack. */
export const collectConfigSchema = z.object({
  /** Where fetch-host is called: `${GATEWAY_URL}/function/fetch-host`. */
  GATEWAY_URL: env.url('http://127.0.0.1:8080'),
  /** fetch-host calls in flight at once; OpenFaaS CE runs at most 5 replicas of a function. */
  COLLECT_CONCURRENCY: env.int(4, 1, 5),
  /** One fetch-host call, end to end (it pulls a whole host's backlog). */
  FETCH_HOST_TIMEOUT_MS: env.int(15 * 60_000, 1000),
  /** Attempts after the first when fetch-host cannot be reached at all. */
  FETCH_HOST_RETRIES: env.int(2, 0, 10),
  /** Backoff of those retries (core's retry policy: doubling from the base, capped, jittered). */
  FETCH_HOST_RETRY_BASE_MS: env.int(1000, 1),
  FETCH_HOST_RETRY_MAX_MS: env.int(10_000, 1),
  /**
   * The run lock's lifetime: collect renews it every third of it while the run goes on, so a
   * collect that died (or could not close its run) blocks the next call for at most this long.
   */
  RUN_LOCK_MS: env.int(60_000, 3000),
  /**
   * How long the run's own records (a host's result, closing the run) are retried while the
   * primary is away (a restart or failover), with the backoff below.
   */
  STORE_RETRY_WINDOW_MS: env.int(60_000, 0),
  STORE_RETRY_BASE_MS: env.int(250, 1),
  STORE_RETRY_MAX_MS: env.int(5000, 1),
  /**
   * No host is started after this long, so the run answers before collect's exec_timeout (30m):
   * a host started last may take FETCH_HOST_TIMEOUT_MS more, so keep the sum under exec_timeout.
   */
  COLLECT_MAX_DURATION_MS: env.int(19 * 60_000, 0),
  /**
   * After SIGTERM, how long the hosts in flight get to answer before the run is handed back; with
   * the rest of the drain it must end before the wrapper's DRAIN_DEADLINE_MS (25 s,
   * templates/node22-ts/watchdog.ts).
   */
  COLLECT_DRAIN_MS: env.int(15_000, 0, 20_000),
});

export type CollectConfig = z.infer<typeof collectConfigSchema>;

export const loadCollectConfig = (source: Record<string, string | undefined> = process.env) =>
  loadConfig(collectConfigSchema, source);
