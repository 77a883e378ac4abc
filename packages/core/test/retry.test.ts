import { describe, expect, it } from 'vitest';
import { InfralogsError } from '../src/errors';
import {
  busyDelay,
  isRetryable,
  MAX_RETRY_AFTER_MS,
  parseRetryAfter,
  retryAfterMs,
  retryDelay,
  withRetry,
} from '../src/retry';

const policy = { retries: 3, baseMs: 100, maxMs: 1000 };

describe('retryDelay', () => {
  it('doubles up to the ceiling, with half of each delay random', () => {
    expect([1, 2, 3, 4, 5].map((n) => retryDelay(n, policy, () => 0))).toEqual([50, 100, 200, 400, 500]);
    expect([1, 2, 3, 4, 5].map((n) => retryDelay(n, policy, () => 1))).toEqual([100, 200, 400, 800, 1000]);
  });
});

describe('isRetryable', () => {
  it('retries network failures and 5xx/429 answers, not client errors or bugs', () => {
    expect(isRetryable(Object.assign(new Error('x'), { code: 'ECONNREFUSED' }))).toBe(true);
    expect(isRetryable(Object.assign(new Error('x'), { code: 'ETIMEDOUT' }))).toBe(true);
    const upstream = (status: number) =>
      new InfralogsError('UPSTREAM_FAILED', 'x', { details: { upstreamStatus: status } });
    expect(isRetryable(upstream(503))).toBe(true);
    expect(isRetryable(upstream(429))).toBe(true);
    expect(isRetryable(upstream(401))).toBe(false);
    expect(isRetryable(upstream(413))).toBe(false);
    expect(isRetryable(new InfralogsError('UPSTREAM_FAILED', 'bad line'))).toBe(false);
    expect(isRetryable(new TypeError('bug'))).toBe(false);
  });

  it("reads the status of an HTTP client's error (got's HTTPError carries the response)", () => {
    const answered = (statusCode: number) =>
      Object.assign(new Error('x'), { code: 'ERR_NON_2XX_3XX_RESPONSE', response: { statusCode } });
    expect(isRetryable(answered(502))).toBe(true);
    expect(isRetryable(answered(400))).toBe(false);
  });

  it("'unreached' retries only what cannot have run: refused, unresolved, reset, the watchdog's 429", () => {
    const network = (code: string) => Object.assign(new Error('x'), { code });
    const answered = (statusCode: number) => Object.assign(new Error('x'), { response: { statusCode } });
    for (const code of ['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ECONNRESET']) {
      expect(isRetryable(network(code), 'unreached')).toBe(true);
    }
    expect(isRetryable(network('ETIMEDOUT'), 'unreached')).toBe(false);
    expect(isRetryable(answered(429), 'unreached')).toBe(true);
    expect(isRetryable(answered(502), 'unreached')).toBe(false);
    expect(isRetryable(answered(503), 'unreached')).toBe(false);
  });
});

describe('withRetry', () => {
  const fast = { retries: 2, baseMs: 1, maxMs: 2 };
  it('retries a retryable failure until it succeeds', async () => {
    let calls = 0;
    const retried: number[] = [];
    const value = await withRetry(
      async () => {
        calls += 1;
        if (calls < 3) throw Object.assign(new Error('refused'), { code: 'ECONNREFUSED' });
        return 'ok';
      },
      fast,
      { onRetry: (_e, attempt) => retried.push(attempt) },
    );
    expect(value).toBe('ok');
    expect(retried).toEqual([1, 2]);
  });

  it('gives up after the budget and at once on a non-retryable error', async () => {
    let calls = 0;
    const refused = Object.assign(new Error('refused'), { code: 'ECONNREFUSED' });
    await expect(
      withRetry(async () => {
        calls += 1;
        throw refused;
      }, fast),
    ).rejects.toBe(refused);
    expect(calls).toBe(3);
    calls = 0;
    const denied = new InfralogsError('UPSTREAM_FAILED', 'no', { details: { upstreamStatus: 401 } });
    await expect(
      withRetry(async () => {
        calls += 1;
        throw denied;
      }, fast),
    ).rejects.toBe(denied);
    expect(calls).toBe(1);
  });

  it('waits a busy answer out as its Retry-After asks, on the busy budget, not the failure budget', async () => {
    const busy = new InfralogsError('UPSTREAM_FAILED', 'agent answered 429', {
      details: { upstreamStatus: 429, retryAfterMs: 3 },
    });
    const refused = Object.assign(new Error('refused'), { code: 'ECONNREFUSED' });
    const delays: number[] = [];
    let calls = 0;
    const value = await withRetry(
      async () => {
        calls += 1;
        // Five busy answers, then two failures: more of each than `retries` (2) alone allows.
        if (calls <= 5) throw busy;
        if (calls <= 7) throw refused;
        return 'ok';
      },
      { ...fast, busyRetries: 5 },
      { onRetry: (_e, _n, delayMs) => delays.push(delayMs), random: () => 1 },
    );
    expect(value).toBe('ok');
    // Retry-After plus half again (random() = 1 here), then the failures' own backoff.
    expect(delays).toEqual([5, 5, 5, 5, 5, 1, 2]);
    calls = 0;
    await expect(
      withRetry(
        async () => {
          calls += 1;
          throw busy;
        },
        { ...fast, busyRetries: 3 },
      ),
    ).rejects.toBe(busy);
    expect(calls).toBe(4);
  });
});

describe('busyDelay', () => {
  it('waits the Retry-After plus up to half again, never less than the backoff nor more than the cap', () => {
    expect(busyDelay(1000, 1, policy, () => 0)).toBe(1000);
    expect(busyDelay(1000, 1, policy, () => 1)).toBe(1500);
    expect(busyDelay(0, 4, policy, () => 0)).toBe(400);
    expect(busyDelay(10 * MAX_RETRY_AFTER_MS, 1, policy, () => 0)).toBe(MAX_RETRY_AFTER_MS);
  });
});

describe('Retry-After', () => {
  it("reads delay-seconds and HTTP dates, from coded errors and HTTP clients' responses", () => {
    const now = Date.UTC(2026, 11, 1, 12, 0, 0);
    expect(parseRetryAfter('5')).toBe(5000);
    expect(parseRetryAfter(' 0 ')).toBe(0);
    expect(parseRetryAfter('Tue, 01 Dec 2026 12:00:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfter('Tue, 01 Dec 2026 11:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon')).toBeUndefined();
    expect(parseRetryAfter(undefined)).toBeUndefined();
    expect(parseRetryAfter('-1')).toBeUndefined();
    expect(retryAfterMs(new InfralogsError('UPSTREAM_FAILED', 'x', { details: { retryAfterMs: 7 } }))).toBe(
      7,
    );
    expect(retryAfterMs(new InfralogsError('UPSTREAM_FAILED', 'x'))).toBeUndefined();
    const answered = Object.assign(new Error('x'), {
      response: { statusCode: 429, headers: { 'retry-after': '2' } },
    });
    expect(retryAfterMs(answered)).toBe(2000);
  });
});

describe('retrying through a restart', () => {
  it("retries a 'transaction' only on store errors that mean the server is away", () => {
    const store = (dbCode: string) => new InfralogsError('DATABASE_FAILED', 'x', { details: { dbCode } });
    expect(isRetryable(store('PROTOCOL_CONNECTION_LOST'), 'transaction')).toBe(true);
    expect(isRetryable(store('ECONNREFUSED'), 'transaction')).toBe(true);
    expect(isRetryable(store('ER_SERVER_SHUTDOWN'), 'transaction')).toBe(true);
    expect(isRetryable(store('ER_DUP_ENTRY'), 'transaction')).toBe(false);
    expect(isRetryable(store('ECONNREFUSED'), 'repeatable')).toBe(false);
    expect(
      isRetryable(Object.assign(new Error('x'), { code: 'PROTOCOL_CONNECTION_LOST' }), 'transaction'),
    ).toBe(true);
  });

  it('goes on past `retries` while within `withinMs`, then gives up', async () => {
    let calls = 0;
    const refused = () => {
      calls += 1;
      return Promise.reject(Object.assign(new Error('refused'), { code: 'ECONNREFUSED' }));
    };
    await expect(
      withRetry(refused, { retries: 1, baseMs: 1, maxMs: 2, withinMs: 200 }, { random: () => 0 }),
    ).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    // Far more than 1 + retries attempts: the window, not the count, bounded them.
    expect(calls).toBeGreaterThan(5);
    calls = 0;
    await expect(withRetry(refused, { retries: 1, baseMs: 1, maxMs: 2 })).rejects.toThrow('refused');
    expect(calls).toBe(2);
  });
});
