import got, { HTTPError } from 'got';
import { InfralogsError, withRetry, type IngestResult, type RetryPolicy } from '@infralogs/core';
import type { Batch } from './batches';

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
 * Posts batches to `${GATEWAY_URL}/function/ingest` (the body Batcher wrote: the entries' bytes as
 * they came). A batch is safe to post again (ingest inserts idempotently and moves the checkpoint
 * only on commit): core's retry policy for 'repeatable' calls (network errors, "try again later"
 * statuses, backoff with jitter).
 */
export function createIngestClient(options: IngestClientOptions): (batch: Batch) => Promise<IngestResult> {
  const url = new URL(
    'function/ingest',
    options.gatewayUrl.endsWith('/') ? options.gatewayUrl : `${options.gatewayUrl}/`,
  );
  return async (batch) => {
    const token = await options.token();
    try {
      return await withRetry(
        () =>
          got
            .post(url, {
              // One Buffer, sent again as it is by a retry; got sets its Content-Length.
              body: batch.body,
              headers: {
                authorization: `Bearer ${token}`,
                'content-type': 'application/json',
              },
              timeout: { request: options.timeoutMs },
              retry: { limit: 0 },
            })
            .json<IngestResult>(),
        options.retry,
        {
          safety: 'repeatable',
          onRetry: (err) => options.onRetry?.(batch.host, retryCause(err)),
        },
      );
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

/** A retried post's cause: `ingest-<status>` for an answer, else the network error's code. */
function retryCause(err: unknown): string {
  const status = (err as { response?: { statusCode?: unknown } } | null)?.response?.statusCode;
  if (typeof status === 'number') return `ingest-${status}`;
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : 'other';
}
