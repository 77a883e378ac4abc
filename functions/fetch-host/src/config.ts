import { env, loadConfig } from '@infralogs/core';
import { z } from 'zod';

/**
 * fetch-host's environment. Defaults suit the local stack. ENTRY_MAX_BYTES (and so
 * BATCH_MAX_BYTES) must stay below ingest's MAX_RAW_SIZE (stack.yml: 16mb), or ingest answers 413
 * for the batch of one large entry.
 */
export const fetchHostConfigSchema = z
  .object({
    /** Where ingest is called: `${GATEWAY_URL}/function/ingest`. */
    GATEWAY_URL: env.url('http://127.0.0.1:8080'),
    /**
     * Entries asked of the agent per page (`limit=`); a shorter page means the journal is drained.
     * Each page costs a journalctl start, a cursor seek and a TLS handshake on the agent's VM, so
     * pages are large; the agent's own default maximum (AGENT_LIMIT_MAX) is 100,000.
     */
    AGENT_PAGE_LIMIT: env.int(50_000, 1, 1_000_000),
    /** Size normal ingest request bodies are filled to, in bytes, envelope included. */
    BATCH_MAX_BYTES: env.int(1_000_000, 4096),
    /**
     * The largest entry sent (its JSON); one over BATCH_MAX_BYTES goes alone in its batch, one over
     * this is stored with its message truncated. Also the longest agent line held whole.
     */
    ENTRY_MAX_BYTES: env.int(12_000_000, 65_536, 16_000_000),
    BATCH_MAX_ENTRIES: env.int(2000, 1, 100_000),
    AGENT_CONNECT_TIMEOUT_MS: env.int(5_000, 1),
    /** Until the agent's response headers arrive. */
    AGENT_RESPONSE_TIMEOUT_MS: env.int(30_000, 1),
    /** Longest silence of the agent's socket mid-stream (includes time spent waiting on ingest). */
    AGENT_IDLE_TIMEOUT_MS: env.int(120_000, 1),
    /**
     * Ask agents for gzip (`Accept-Encoding: gzip`). Off by default: decompressing was fetch-host's
     * largest single cost in a CPU profile of bench:e2e, and the agents pay for compressing; turn it
     * on for agents behind slow links, where less traffic is worth the CPU.
     */
    AGENT_GZIP: env.bool(false),
    INGEST_TIMEOUT_MS: env.int(120_000, 1),
    /** Attempts after the first, for opening a page and for each ingest call. */
    RETRIES: env.int(3, 0, 10),
    /**
     * Retries of an agent's busy answer (429 with Retry-After: its stream cap), waited out as the
     * agent asks (core retry.ts); they do not spend RETRIES.
     */
    AGENT_BUSY_RETRIES: env.int(30, 0, 1000),
    /**
     * An ingest call (and fetch-host's own reads of the host and its checkpoint) is retried for
     * this long, beyond RETRIES, so a primary restart or failover of seconds costs seconds (ingest
     * answers 503 meanwhile): the batch is safe to post again. Keep it under FETCH_MAX_DURATION_MS.
     */
    INGEST_RETRY_WINDOW_MS: env.int(60_000, 0),
    /**
     * Opening an agent's page is retried for this long, beyond RETRIES, so an agent restarting
     * (its process killed, its VM's service restarted) costs seconds, not the host's run.
     */
    AGENT_RETRY_WINDOW_MS: env.int(30_000, 0),
    RETRY_BASE_MS: env.int(500, 1),
    RETRY_MAX_MS: env.int(10_000, 1),
    /** No new page after this long: keep it under the function's exec_timeout (stack.yml: 10m). */
    FETCH_MAX_DURATION_MS: env.int(480_000, 0),
  })
  .refine((c) => c.ENTRY_MAX_BYTES >= c.BATCH_MAX_BYTES, {
    path: ['ENTRY_MAX_BYTES'],
    message: 'must be at least BATCH_MAX_BYTES',
  });

export type FetchHostConfig = z.infer<typeof fetchHostConfigSchema>;

export const loadFetchHostConfig = (source: Record<string, string | undefined> = process.env) =>
  loadConfig(fetchHostConfigSchema, source);
