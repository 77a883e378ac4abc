import { setTimeout as sleep } from 'node:timers/promises';
import { InfralogsError } from './errors';

/**
 * The one retry policy of Infralogs' HTTP callers: fetch-host opening an agent page and posting
 * batches to ingest, collect calling fetch-host. (The credential rotator keeps its own: it is a
 * plug-in that stands alone.) The rules, stated once:
 *
 * - Backoff: retry n waits for a ceiling of `baseMs * 2^(n-1)`, capped at `maxMs`, with "equal
 *   jitter" (half of it fixed, half random), so callers that failed together do not retry in
 *   lockstep. At most `retries` attempts after the first — or, with `withinMs`, as many as fit
 *   in that time since the first attempt began (at least `retries`): a caller that must ride out
 *   a primary restart or failover of seconds bounds its retries by time, not by count.
 * - What is retried depends on what running the call twice could do (`RetrySafety`):
 *   - 'repeatable': the call is safe to repeat (opening a page before any entry was read; posting
 *     a batch, which ingest inserts idempotently). Retried: network failures (`NETWORK_CODES`)
 *     and the statuses that mean "try again later" (`AGAIN_STATUSES`).
 *   - 'unreached': the call must not run twice (collect → fetch-host pulls a whole host). Retried
 *     only when it cannot have run: the connection was refused, the name did not resolve, a
 *     kept-alive socket was reset before the request, or the watchdog refused it (429,
 *     max_inflight) before the function saw it.
 *   - 'transaction': a store call that is one transaction and safe to repeat (recording a run's
 *     host result, closing a run). Retried when the database could not be reached or went away
 *     (`DATABASE_AGAIN_CODES`, read from the store error's `details.dbCode`): a restarting
 *     primary refuses connections, drops them, or answers ER_SERVER_SHUTDOWN while it stops.
 * - Never retried: other 4xx (they repeat identically), and anything that is not a network error
 *   or an upstream answer (bugs, bad lines).
 * - Busy: a retryable answer that names its `Retry-After` (the agent's stream cap answers 429 with
 *   one) is a server alive and saying when to come back, not a failure. The retry waits that long
 *   plus up to half again at random (so the clients it refused together come back spread out),
 *   never less than the backoff and never more than `MAX_RETRY_AFTER_MS`, and spends `busyRetries`
 *   (default `retries`) instead of `retries`: a burst of clients on one agent is waited out rather
 *   than failing the hosts' pulls.
 *
 * An upstream answer's status is read from `details.upstreamStatus` of an InfralogsError (set
 * where an answer becomes one) or from the `response.statusCode` of an HTTP client's error (got's
 * HTTPError), so callers may retry before or after turning the answer into their own error.
 */
export interface RetryPolicy {
  /** Attempts after the first. */
  retries: number;
  baseMs: number;
  maxMs: number;
  /** Retries of busy answers (those naming a Retry-After); default `retries`. */
  busyRetries?: number;
  /** Retry for this long since the first attempt began, even past `retries`. */
  withinMs?: number;
}

/** The longest Retry-After honoured: a server asking for more is asked again after this. */
export const MAX_RETRY_AFTER_MS = 60_000;

export type RetrySafety = 'repeatable' | 'unreached' | 'transaction';

/** Network failures worth another try: nothing was processed, or the answer was lost. */
export const NETWORK_CODES: readonly string[] = [
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ENETUNREACH',
  'EHOSTUNREACH',
];
/** Gateway/upstream statuses that mean "try again later". */
export const AGAIN_STATUSES: readonly number[] = [408, 429, 500, 502, 503, 504];

/**
 * Store failures (mysql2's codes) that mean the server is not there right now, so the same
 * transaction may succeed on a new connection: it was never committed, or it is idempotent.
 */
export const DATABASE_AGAIN_CODES: readonly string[] = [
  ...NETWORK_CODES,
  'PROTOCOL_CONNECTION_LOST',
  'ER_SERVER_SHUTDOWN',
  'ER_CONNECTION_KILLED',
  'ER_CON_COUNT_ERROR',
  'ER_LOCK_WAIT_TIMEOUT',
  'ER_LOCK_DEADLOCK',
  // The credentials were refused (their lease revoked): the pool reported it, and the rotator is
  // leasing new ones, which the retry uses (core database-vault.ts).
  'ER_ACCESS_DENIED_ERROR',
  'ER_TABLEACCESS_DENIED_ERROR',
];

export const RETRY_RULES: Record<RetrySafety, { codes: readonly string[]; statuses: readonly number[] }> = {
  repeatable: { codes: NETWORK_CODES, statuses: AGAIN_STATUSES },
  unreached: { codes: ['ECONNREFUSED', 'ECONNRESET', 'EAI_AGAIN', 'ENOTFOUND'], statuses: [429] },
  transaction: { codes: DATABASE_AGAIN_CODES, statuses: [] },
};

/** Delay before retry number `attempt` (1 = first retry): half fixed, half random. */
export function retryDelay(attempt: number, policy: RetryPolicy, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

/**
 * Delay before retry number `attempt` (1 = first) of busy answers that asked for `afterMs`: that
 * long plus up to half again at random, at most MAX_RETRY_AFTER_MS, never less than the backoff.
 */
export function busyDelay(
  afterMs: number,
  attempt: number,
  policy: RetryPolicy,
  random: () => number = Math.random,
): number {
  const asked = Math.round(Math.min(afterMs, MAX_RETRY_AFTER_MS) * (1 + random() / 2));
  return Math.max(retryDelay(attempt, policy, random), asked);
}

/** The upstream status an error carries, if it is an upstream answer. */
function upstreamStatus(err: unknown): number | undefined {
  if (err instanceof InfralogsError) {
    const status = err.details?.upstreamStatus;
    return typeof status === 'number' ? status : undefined;
  }
  const status = (err as { response?: { statusCode?: unknown } } | null)?.response?.statusCode;
  return typeof status === 'number' ? status : undefined;
}

/**
 * A Retry-After header's wait in ms: delay-seconds or an HTTP date (RFC 9110 §10.2.3); undefined
 * when absent or unreadable.
 */
export function parseRetryAfter(value: unknown, now = Date.now()): number | undefined {
  if (typeof value !== 'string' || value.trim() === '') return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  // An HTTP date names its weekday and month; Date.parse alone would take '-1' for a year.
  if (!/[a-z]{3}/i.test(text)) return undefined;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/**
 * The wait an upstream answer asked for, in ms: `details.retryAfterMs` of an InfralogsError (set
 * where an answer becomes one), or the Retry-After header of an HTTP client's error.
 */
export function retryAfterMs(err: unknown): number | undefined {
  if (err instanceof InfralogsError) {
    const ms = err.details?.retryAfterMs;
    return typeof ms === 'number' ? ms : undefined;
  }
  const headers = (err as { response?: { headers?: Record<string, unknown> } } | null)?.response?.headers;
  return parseRetryAfter(headers?.['retry-after']);
}

/** Whether `err` is worth another attempt for a call of the given safety. */
export function isRetryable(err: unknown, safety: RetrySafety = 'repeatable'): boolean {
  const rules = RETRY_RULES[safety];
  const status = upstreamStatus(err);
  if (status !== undefined) return rules.statuses.includes(status);
  if (err instanceof InfralogsError) {
    // A store error (storeError) names the driver's code; only 'transaction' calls retry on it.
    const dbCode = err.details?.dbCode;
    return safety === 'transaction' && typeof dbCode === 'string' && rules.codes.includes(dbCode);
  }
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && rules.codes.includes(code);
}

/**
 * Runs `attempt` until it succeeds, a non-retryable error occurs or the policy is spent; the last
 * error is thrown as it is. `onRetry` sees each error that is retried (for logs).
 */
export async function withRetry<T>(
  attempt: () => Promise<T>,
  policy: RetryPolicy,
  options: {
    safety?: RetrySafety;
    onRetry?: (err: unknown, attempt: number, delayMs: number) => void;
    random?: () => number;
  } = {},
): Promise<T> {
  const random = options.random ?? Math.random;
  const started = Date.now();
  let failures = 0;
  let busy = 0;
  for (let n = 1; ; n++) {
    try {
      return await attempt();
    } catch (err) {
      if (!isRetryable(err, options.safety)) throw err;
      // Busy answers (they name a Retry-After) and failures are counted on budgets of their own.
      const after = retryAfterMs(err);
      const spent = after === undefined ? ++failures : ++busy;
      const budget = after === undefined ? policy.retries : (policy.busyRetries ?? policy.retries);
      const delay =
        after === undefined ? retryDelay(spent, policy, random) : busyDelay(after, spent, policy, random);
      const inWindow = policy.withinMs !== undefined && Date.now() - started + delay <= policy.withinMs;
      if (spent > budget && !inWindow) throw err;
      options.onRetry?.(err, n, delay);
      await sleep(delay);
    }
  }
}
