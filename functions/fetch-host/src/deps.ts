import {
  createLogger,
  InfralogsError,
  lazyDatabase,
  Metrics,
  parseTokens,
  readAgentToken,
  readOptionalSecret,
  readSecret,
  shutdownSignal,
  vaultConfigFromEnv,
} from '@infralogs/core';
import { openPage } from './agent-client';
import { loadFetchHostConfig } from './config';
import type { FetchHostEndpointDeps } from './endpoint';
import { createFetchHost } from './fetch-host';
import { createIngestClient } from './ingest-client';

/**
 * fetch-host wired to its environment: the configuration is validated now (start-up); the
 * database (writer credentials leased from Vault) connects on first use. Secrets:
 * `fetch-host-token` (its callers), `ingest-token` (to call ingest), the Vault login's, and
 * optionally `agent-ca` (the CA bundle agents' certificates must chain to; the system's CAs when
 * absent) and `agent-client-cert` + `agent-client-key` (presented to agents that require mTLS).
 */
export function createFetchHostDeps(
  source: Record<string, string | undefined> = process.env,
): FetchHostEndpointDeps {
  const config = loadFetchHostConfig(source);
  const database = lazyDatabase('writer', source);
  const vault = vaultConfigFromEnv(source);
  const retry = {
    retries: config.RETRIES,
    busyRetries: config.AGENT_BUSY_RETRIES,
    baseMs: config.RETRY_BASE_MS,
    maxMs: config.RETRY_MAX_MS,
  };
  const storeRetry = { ...retry, withinMs: config.INGEST_RETRY_WINDOW_MS };
  const fetchHost = createFetchHost({
    getDatabase: () => database.get(),
    readAgentToken: (host) => readAgentToken(host, vault),
    agentTls: () => readAgentTls(source),
    openPage: (request) =>
      openPage(request, {
        connectMs: config.AGENT_CONNECT_TIMEOUT_MS,
        responseMs: config.AGENT_RESPONSE_TIMEOUT_MS,
        idleMs: config.AGENT_IDLE_TIMEOUT_MS,
        gzip: config.AGENT_GZIP,
      }),
    ingest: createIngestClient({
      gatewayUrl: config.GATEWAY_URL,
      token: () => readSecret('ingest-token', source),
      timeoutMs: config.INGEST_TIMEOUT_MS,
      retry: storeRetry,
      onRetry: (host, cause) =>
        Metrics.forProcess().counter('infralogs_fetch_retries_total').inc({ host, cause }),
    }),
    pageLimit: config.AGENT_PAGE_LIMIT,
    batchLimits: {
      maxBytes: config.BATCH_MAX_BYTES,
      maxEntries: config.BATCH_MAX_ENTRIES,
      maxEntryBytes: config.ENTRY_MAX_BYTES,
    },
    retry,
    pageRetry: { ...retry, withinMs: config.AGENT_RETRY_WINDOW_MS },
    storeRetry,
    maxDurationMs: config.FETCH_MAX_DURATION_MS,
    shutdown: shutdownSignal,
    log: createLogger({ component: 'fetch-host' }),
  });
  return { fetchHost, callerTokens: async () => parseTokens(await readSecret('fetch-host-token', source)) };
}

/** The agent TLS secrets, read per call so a rotated CA bundle or client certificate is picked up. */
async function readAgentTls(source: Record<string, string | undefined>) {
  const [ca, cert, key] = await Promise.all(
    ['agent-ca', 'agent-client-cert', 'agent-client-key'].map((name) => readOptionalSecret(name, source)),
  );
  if (Boolean(cert) !== Boolean(key)) {
    throw new InfralogsError('CONFIG_INVALID', 'secrets agent-client-cert and agent-client-key go together');
  }
  return { ca: ca ?? null, clientCert: cert && key ? { cert, key } : null };
}
