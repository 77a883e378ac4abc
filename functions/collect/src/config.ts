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
   * A run with no host finished for this long is considered dead, so a new run may start; keep it
   * above FETCH_HOST_TIMEOUT_MS.
   */
  RUN_STALE_AFTER_MS: env.int(20 * 60_000, 60_000),
  /**
   * No host is started after this long, so the run answers before collect's exec_timeout (30m):
   * a host started last may take FETCH_HOST_TIMEOUT_MS more, so keep the sum under exec_timeout.
   */
  COLLECT_MAX_DURATION_MS: env.int(19 * 60_000, 0),
});

export type CollectConfig = z.infer<typeof collectConfigSchema>;

export const loadCollectConfig = (source: Record<string, string | undefined> = process.env) =>
  loadConfig(collectConfigSchema, source);
