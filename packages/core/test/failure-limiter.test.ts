import { describe, expect, it } from 'vitest';
import { clientAddress, FAILURE_LIMITS, FailureLimiter } from '../src/failure-limiter';

describe('FailureLimiter', () => {
  it('doubles the wait after each failure up to the cap, and forgets on success or with time', async () => {
    let now = 0;
    const slept: number[] = [];
    const limiter = new FailureLimiter({ now: () => now, sleep: async (ms) => void slept.push(ms) });
    const keys = ['c:10.0.0.1'];
    await limiter.wait(keys);
    for (let i = 0; i < 8; i++) {
      limiter.failed(keys);
      await limiter.wait(keys);
    }
    expect(slept).toEqual([250, 500, 1000, 2000, 4000, 8000, 8000, 8000]);
    // Another client is not slowed by this one.
    expect(limiter.delayFor(['c:10.0.0.2'])).toBe(0);
    // The largest over an attempt's keys.
    expect(limiter.delayFor(['c:10.0.0.2', ...keys])).toBe(FAILURE_LIMITS.MAX_DELAY_MS);
    limiter.succeeded(keys);
    expect(limiter.delayFor(keys)).toBe(0);
    limiter.failed(keys);
    now += FAILURE_LIMITS.MEMORY_MS;
    expect(limiter.delayFor(keys)).toBe(0);
  });

  it('keeps a bounded number of keys, forgetting the oldest', () => {
    const limiter = new FailureLimiter();
    for (let i = 0; i <= FAILURE_LIMITS.KEYS_KEPT; i++) limiter.failed([`c:${i}`]);
    expect(limiter.delayFor(['c:0'])).toBe(0);
    expect(limiter.delayFor([`c:${FAILURE_LIMITS.KEYS_KEPT}`])).toBe(FAILURE_LIMITS.FIRST_DELAY_MS);
  });

  it('takes the client from the last X-Forwarded-For address, which the proxy in front added', () => {
    expect(clientAddress({ 'x-forwarded-for': 'forged, 10.1.2.3' }, '127.0.0.1')).toBe('10.1.2.3');
    expect(clientAddress({}, '127.0.0.9')).toBe('127.0.0.9');
    expect(clientAddress({ 'x-forwarded-for': ['a', 'b, c'] }, undefined)).toBe('c');
  });
});
