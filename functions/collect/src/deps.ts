import { createLogger, lazyDatabase, parseTokens, readSecret, shutdownSignal } from '@infralogs/core';
import { loadCollectConfig } from './config';
import type { CollectEndpointDeps } from './endpoint';
import { createFetchHostClient } from './fetch-host-client';

/**
 * collect wired to its environment: the configuration is validated now (start-up); the database
 * (writer credentials leased from Vault) connects on first use. Secrets: `collect-token` (its
 * callers), `fetch-host-token` (to call fetch-host), the Vault login's.
 */
export function createCollectDeps(
  source: Record<string, string | undefined> = process.env,
): CollectEndpointDeps {
  const config = loadCollectConfig(source);
  const database = lazyDatabase('writer', source);
  return {
    getDatabase: () => database.get(),
    callFetchHost: createFetchHostClient({
      gatewayUrl: config.GATEWAY_URL,
      token: () => readSecret('fetch-host-token', source),
      timeoutMs: config.FETCH_HOST_TIMEOUT_MS,
      retry: {
        retries: config.FETCH_HOST_RETRIES,
        baseMs: config.FETCH_HOST_RETRY_BASE_MS,
        maxMs: config.FETCH_HOST_RETRY_MAX_MS,
      },
    }),
    concurrency: config.COLLECT_CONCURRENCY,
    lockMs: config.RUN_LOCK_MS,
    storeRetry: {
      retries: 3,
      baseMs: config.STORE_RETRY_BASE_MS,
      maxMs: config.STORE_RETRY_MAX_MS,
      withinMs: config.STORE_RETRY_WINDOW_MS,
    },
    maxDurationMs: config.COLLECT_MAX_DURATION_MS,
    shutdown: shutdownSignal,
    drainMs: config.COLLECT_DRAIN_MS,
    log: createLogger({ component: 'collect' }),
    callerTokens: async () => parseTokens(await readSecret('collect-token', source)),
  };
}
