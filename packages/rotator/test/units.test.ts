import { describe, expect, it } from 'vitest';
import { Reporter, backoffDelay, silentLogger } from '../src';
import { isAccessDenied } from '../src/mysql';
import { classify } from '../src/vault-client';

describe('backoffDelay', () => {
  it('stays within (0, min(max, initial·2ⁿ)]', () => {
    for (let attempt = 0; attempt < 40; attempt++) {
      const d = backoffDelay(attempt, { initialMs: 100, maxMs: 2000 });
      expect(d).toBeGreaterThan(0);
      expect(d).toBeLessThanOrEqual(Math.min(2000, 100 * 2 ** attempt));
    }
  });
});

describe('classify', () => {
  const answer = (statusCode: number, message = 'x') =>
    Object.assign(new Error(message), { response: { statusCode } });
  it('maps Vault statuses onto coded errors', () => {
    expect(classify('read p', answer(403, 'permission denied'))).toMatchObject({
      code: 'VAULT_DENIED',
      status: 403,
    });
    expect(classify('read p', answer(503, 'Vault is sealed'))).toMatchObject({ code: 'VAULT_UNAVAILABLE' });
    expect(classify('read p', answer(429))).toMatchObject({ code: 'VAULT_UNAVAILABLE' });
    expect(classify('read p', answer(400))).toMatchObject({ code: 'VAULT_REQUEST_FAILED', status: 400 });
    expect(classify('read p', Object.assign(new Error('connect'), { code: 'ECONNREFUSED' }))).toMatchObject({
      code: 'VAULT_UNAVAILABLE',
      message: 'Vault read p: unreachable (ECONNREFUSED)',
    });
  });
  it('never carries the request (and its token) along', () => {
    const err = Object.assign(new Error('timeout'), {
      code: 'ECONNABORTED',
      config: { headers: { 'X-Vault-Token': 's.secret' } },
    });
    const mapped = classify('read p', err);
    expect(mapped.cause).toBeUndefined();
    expect(JSON.stringify(mapped)).not.toContain('s.secret');
  });
});

describe('Reporter', () => {
  it('counts events and survives a throwing listener', () => {
    const reporter = new Reporter(silentLogger);
    const seen: string[] = [];
    reporter.on('*', () => {
      throw new Error('listener bug');
    });
    reporter.on('revoked', (e) => seen.push(e.type));
    reporter.emit({ type: 'revoked', leaseId: 'l1' });
    reporter.emit({ type: 'drained', leaseId: 'l1', timedOut: true, inFlightAtEnd: 1 });
    reporter.failure('renew', Object.assign(new Error('gone'), { code: 'LEASE_INVALID' }), { leaseId: 'l1' });
    expect(seen).toEqual(['revoked']);
    expect(reporter.counters).toMatchObject({ revocations: 1, drains: 1, drainTimeouts: 1, errors: 1 });
  });
});

describe('isAccessDenied', () => {
  it('recognises MySQL access-denied errors only', () => {
    expect(isAccessDenied({ errno: 1045 })).toBe(true);
    expect(isAccessDenied({ errno: 1142 })).toBe(false);
  });
});
