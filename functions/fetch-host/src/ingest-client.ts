import got, { HTTPError } from 'got';
import { InfralogsError, type IngestResult } from '@infralogs/core';
import type { Batch } from './batches';
import { RETRYABLE_STATUSES, retryDelay, retryableErrorCodes, type RetryPolicy } from './retry';

export interface IngestClientOptions {
  gatewayUrl: string;
  /** ingest's caller token, read per call so a rotated secret file is picked up. */
  token: () => Promise<string>;
  timeoutMs: number;
  retry: RetryPolicy;
  /** Told of each retried post: the batch's host and why (`ingest-503`, or a network code). */
  onRetry?: (host: string, cause: string) => void;
}

/**
 * Posts batches to `${GATEWAY_URL}/function/ingest`. A batch is safe to post again (ingest inserts
 * idempotently and moves the checkpoint only on commit), so POST is retried on network errors and
 * retryable statuses, with the shared backoff-and-jitter policy.
 */
export function createIngestClient(options: IngestClientOptions): (batch: Batch) => Promise<IngestResult> {
  const url = new URL(
    'function/ingest',
    options.gatewayUrl.endsWith('/') ? options.gatewayUrl : `${options.gatewayUrl}/`,
  );
  return async (batch) => {
    const token = await options.token();
    try {
      return await got
        .post(url, {
          json: { host: batch.host, entries: batch.entries },
          headers: { authorization: `Bearer ${token}` },
          timeout: { request: options.timeoutMs },
          retry: {
            limit: options.retry.retries,
            methods: ['POST'],
            statusCodes: RETRYABLE_STATUSES,
            errorCodes: retryableErrorCodes(),
            calculateDelay: ({ attemptCount, computedValue }) =>
              computedValue === 0 ? 0 : retryDelay(attemptCount, options.retry),
          },
          hooks: {
            beforeRetry: [
              (error) => {
                const status = error.response?.statusCode;
                options.onRetry?.(batch.host, status ? `ingest-${status}` : (error.code ?? 'other'));
              },
            ],
          },
        })
        .json<IngestResult>();
    } catch (err) {
      if (err instanceof HTTPError) {
        const status = err.response.statusCode;
        const upstream = upstreamError(err.response.body);
        throw new InfralogsError(
          'UPSTREAM_FAILED',
          `ingest answered ${status}: ${upstream.code} ${upstream.message}`,
          {
            details: { upstreamStatus: status, upstreamError: upstream.code },
          },
        );
      }
      throw err;
    }
  };
}

function upstreamError(body: unknown): { code: string; message: string } {
  try {
    const parsed = (typeof body === 'string' || Buffer.isBuffer(body) ? JSON.parse(String(body)) : body) as {
      error?: { code?: unknown; message?: unknown };
    };
    return { code: String(parsed.error?.code ?? 'UNKNOWN'), message: String(parsed.error?.message ?? '') };
  } catch {
    return { code: 'UNKNOWN', message: '' };
  }
}
