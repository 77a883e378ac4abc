import got, { HTTPError } from 'got';
import { withRetry, type RetryPolicy } from '@infralogs/core';
import type { HostSummary } from './summary';
import { failedHost } from './summary';

export interface FetchHostClientOptions {
  gatewayUrl: string;
  /** fetch-host's caller token, read per call so a rotated secret file is picked up. */
  token: () => Promise<string>;
  timeoutMs: number;
  /** For calls that cannot have reached fetch-host; see core's retry policy ('unreached'). */
  retry: RetryPolicy;
}

interface FetchHostAnswer {
  host?: unknown;
  fetched?: unknown;
  inserted?: unknown;
  duplicates?: unknown;
  cursor?: unknown;
  more?: unknown;
  error?: { code?: unknown; message?: unknown };
}

/**
 * Calls `${GATEWAY_URL}/function/fetch-host` synchronously (CE's async queue runs one call at a
 * time). Only failures to reach fetch-host at all are retried (core's retry policy for
 * 'unreached' calls: connection errors, 429 from the watchdog); a call that ran is never repeated
 * here, its own retries happened inside it. Never throws: every outcome becomes the host's summary.
 */
export function createFetchHostClient(
  options: FetchHostClientOptions,
): (host: string) => Promise<HostSummary> {
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

/** fetch-host's answer → a summary; anything unexpected becomes an UPSTREAM_FAILED error. */
export function summaryFromAnswer(host: string, status: number, text: string): HostSummary {
  let answer: FetchHostAnswer;
  try {
    answer = JSON.parse(text) as FetchHostAnswer;
  } catch {
    return failedHost(host, {
      code: 'UPSTREAM_FAILED',
      message: `fetch-host answered ${status} without JSON`,
    });
  }
  const count = (v: unknown) => (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : 0);
  const error =
    status === 200 && answer.error === undefined
      ? null
      : {
          code: typeof answer.error?.code === 'string' ? answer.error.code : 'UPSTREAM_FAILED',
          message:
            typeof answer.error?.message === 'string'
              ? answer.error.message
              : `fetch-host answered ${status}`,
        };
  return {
    host,
    fetched: count(answer.fetched),
    inserted: count(answer.inserted),
    duplicates: count(answer.duplicates),
    cursor: typeof answer.cursor === 'string' ? answer.cursor : null,
    ...(answer.more === true ? { more: true as const } : {}),
    error,
  };
}
