import got from 'got';
import type { HostSummary } from './summary';
import { failedHost } from './summary';

export interface FetchHostClientOptions {
  gatewayUrl: string;
  /** fetch-host's caller token, read per call so a rotated secret file is picked up. */
  token: () => Promise<string>;
  timeoutMs: number;
  retries: number;
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
 * time). Only failures to reach fetch-host at all are retried (connection errors, 429 from the
 * watchdog); a call that ran is never repeated here, its own retries happened inside it. Never
 * throws: every outcome becomes the host's summary.
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
      const response = await got.post(url, {
        json: { host },
        headers: { authorization: `Bearer ${await options.token()}` },
        timeout: { request: options.timeoutMs },
        retry: {
          limit: options.retries,
          methods: ['POST'],
          statusCodes: [429],
          errorCodes: ['ECONNREFUSED', 'ECONNRESET', 'EAI_AGAIN', 'ENOTFOUND'],
          // got's own backoff: 1 s, 2 s, … plus up to 100 ms of jitter (its maximum).
          backoffLimit: 10_000,
          noise: 100,
        },
        throwHttpErrors: false,
      });
      return summaryFromAnswer(host, response.statusCode, response.body);
    } catch (err) {
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
