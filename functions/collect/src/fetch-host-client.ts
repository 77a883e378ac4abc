import got, { HTTPError } from 'got';
import { z } from 'zod';
import {
  hostErrorSchema,
  hostResultSchema,
  withRetry,
  type HostResult,
  type RetryPolicy,
} from '@infralogs/core';
import { failedHost } from './summary';

export interface FetchHostClientOptions {
  gatewayUrl: string;
  /** fetch-host's caller token, read per call so a rotated secret file is picked up. */
  token: () => Promise<string>;
  timeoutMs: number;
  /** For calls that cannot have reached fetch-host; see core's retry policy ('unreached'). */
  retry: RetryPolicy;
}

/**
 * Calls `${GATEWAY_URL}/function/fetch-host` synchronously (CE's async queue runs one call at a
 * time). Only failures to reach fetch-host at all are retried (core's retry policy for
 * 'unreached' calls: connection errors, 429 from the watchdog); a call that ran is never repeated
 * here, its own retries happened inside it. Never throws: every outcome becomes the host's summary.
 */
export function createFetchHostClient(
  options: FetchHostClientOptions,
): (host: string) => Promise<HostResult> {
  const url = new URL(
    'function/fetch-host',
    options.gatewayUrl.endsWith('/') ? options.gatewayUrl : `${options.gatewayUrl}/`,
  );
  return async (host) => {
    try {
      const authorization = `Bearer ${await options.token()}`;
      const response = await withRetry(
        () =>
          got.post(url, {
            json: { host },
            headers: { authorization },
            timeout: { request: options.timeoutMs },
            retry: { limit: 0 },
          }),
        options.retry,
        { safety: 'unreached' },
      );
      return summaryFromAnswer(host, response.statusCode, response.body);
    } catch (err) {
      // fetch-host answered (and was not retried, or the budget is spent): its answer says why.
      if (err instanceof HTTPError) {
        return summaryFromAnswer(host, err.response.statusCode, String(err.response.body));
      }
      const { code, message } = err as { code?: unknown; message?: unknown };
      return failedHost(host, {
        code: 'UPSTREAM_FAILED',
        message: `fetch-host could not be called: ${typeof code === 'string' ? code : 'unknown error'} (${String(message)})`,
      });
    }
  };
}

const errorOnly = z.object({ error: hostErrorSchema });

/**
 * fetch-host's answer → the host's result. fetch-host answers a HostResult (core's schema), 200
 * when complete and its error's status when the pull stopped early; anything else (a plain JSON
 * error from the watchdog or the wrapper, a body that is not JSON) becomes a result with no
 * progress and the error, UPSTREAM_FAILED when it names none.
 */
export function summaryFromAnswer(host: string, status: number, text: string): HostResult {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return failedHost(host, {
      code: 'UPSTREAM_FAILED',
      message: `fetch-host answered ${status} without JSON`,
    });
  }
  const answer = hostResultSchema.safeParse(body);
  if (answer.success && answer.data.host === host) {
    if (status === 200 || answer.data.error !== null) return answer.data;
    return { ...answer.data, error: { code: 'UPSTREAM_FAILED', message: `fetch-host answered ${status}` } };
  }
  const plain = errorOnly.safeParse(body);
  if (plain.success) return failedHost(host, plain.data.error);
  return failedHost(host, {
    code: 'UPSTREAM_FAILED',
    message: `fetch-host answered ${status} with an unexpected body`,
  });
}
