import { setTimeout as sleep } from 'node:timers/promises';
import { InfralogsError } from '@infralogs/core';

/**
 * The retry policy for calls that are safe to repeat (opening an agent page before any entry was
 * read; posting a batch to ingest, which is idempotent): exponential backoff with "equal jitter",
 * so concurrent fetch-host calls that failed together do not retry in lockstep.
 */
export interface RetryPolicy {
  /** Attempts after the first. */
  retries: number;
  baseMs: number;
  maxMs: number;
}

/** Delay before retry number `attempt` (1 = first retry): half fixed, half random. */
export function retryDelay(attempt: number, policy: RetryPolicy, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

/** Network failures worth another try: nothing was processed, or the answer was lost. */
const RETRYABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ENETUNREACH',
  'EHOSTUNREACH',
]);
/** Gateway/upstream statuses that mean "try again later" (never 4xx: those repeat identically). */
export const RETRYABLE_STATUSES = [408, 429, 500, 502, 503, 504];

/**
 * Retryable: a network error (got's `code`), or an upstream answer whose status
 * (`details.upstreamStatus`, set where the answer is turned into an InfralogsError) says so.
 */
export function isRetryable(err: unknown): boolean {
  if (err instanceof InfralogsError) {
    const status = err.details?.upstreamStatus;
    return typeof status === 'number' && RETRYABLE_STATUSES.includes(status);
  }
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && RETRYABLE_CODES.has(code);
}

/** Network error codes for got's own `retry.errorCodes`. */
export const retryableErrorCodes = () => [...RETRYABLE_CODES];

/**
 * Runs `attempt` until it succeeds, a non-retryable error occurs or the policy is spent. `onRetry`
 * sees each error that is retried (for logs).
 */
export async function withRetry<T>(
  attempt: () => Promise<T>,
  policy: RetryPolicy,
  options: { onRetry?: (err: unknown, attempt: number, delayMs: number) => void; random?: () => number } = {},
): Promise<T> {
  for (let n = 1; ; n++) {
    try {
      return await attempt();
    } catch (err) {
      if (n > policy.retries || !isRetryable(err)) throw err;
      const delay = retryDelay(n, policy, options.random);
      options.onRetry?.(err, n, delay);
      await sleep(delay);
    }
  }
}
