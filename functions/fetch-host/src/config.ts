import { env, loadConfig } from '@infralogs/core';
import { z } from 'zod';

/**
 * fetch-host's environment. Defaults suit the local stack. BATCH_MAX_BYTES must stay below
 * ingest's MAX_JSON_SIZE (stack.yml), or ingest answers 413 for a full batch.
 */
export const fetchHostConfigSchema = z.object({
  /** Where ingest is called: `${GATEWAY_URL}/function/ingest`. */
  GATEWAY_URL: env.url('http://127.0.0.1:8080'),
  /** Entries asked of the agent per page (`limit=`); a shorter page means the journal is drained. */
  AGENT_PAGE_LIMIT: env.int(5000, 1, 1_000_000),
  /** Size of one ingest request body, in bytes, envelope included. */
  BATCH_MAX_BYTES: env.int(1_000_000, 4096),
  BATCH_MAX_ENTRIES: env.int(2000, 1, 100_000),
  AGENT_CONNECT_TIMEOUT_MS: env.int(5_000, 1),
  /** Until the agent's response headers arrive. */
  AGENT_RESPONSE_TIMEOUT_MS: env.int(30_000, 1),
  /** Longest silence of the agent's socket mid-stream (includes time spent waiting on ingest). */
  AGENT_IDLE_TIMEOUT_MS: env.int(120_000, 1),
  INGEST_TIMEOUT_MS: env.int(120_000, 1),
  /** Attempts after the first, for opening a page and for each ingest call. */
  RETRIES: env.int(3, 0, 10),
  RETRY_BASE_MS: env.int(500, 1),
  RETRY_MAX_MS: env.int(10_000, 1),
  /** No new page after this long: keep it under the function's exec_timeout (stack.yml: 10m). */
  FETCH_MAX_DURATION_MS: env.int(480_000, 0),
});

export type FetchHostConfig = z.infer<typeof fetchHostConfigSchema>;

export const loadFetchHostConfig = (source: Record<string, string | undefined> = process.env) =>
  loadConfig(fetchHostConfigSchema, source);
