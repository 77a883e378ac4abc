import { describe, expect, it } from 'vitest';
import { InfralogsError } from '../src/errors';
import { isRetryable, retryDelay, withRetry } from '../src/retry';

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
