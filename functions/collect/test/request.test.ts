import { describe, expect, it } from 'vitest';
import type { FunctionEvent } from '@infralogs/core';
import { isCronCall, parseCollectBody, selectHosts } from '../src/request';

const event = (headers: FunctionEvent['headers']): FunctionEvent => ({
  body: undefined,
  headers,
  method: 'POST',
  query: {},
  path: '/',
});

describe('isCronCall', () => {
  it('is the connector header with no body, nothing else', () => {
    expect(
      isCronCall(event({ 'x-connector': 'cron-connector', 'x-topic': 'cron-function' }), undefined),
    ).toBe(true);
    expect(isCronCall(event({ 'x-connector': 'cron-connector' }), {})).toBe(false);
    expect(isCronCall(event({ 'x-connector': 'cron-connector' }), { hosts: ['a'] })).toBe(false);
    expect(isCronCall(event({ 'x-connector': 'kafka-connector' }), undefined)).toBe(false);
    expect(isCronCall(event({}), undefined)).toBe(false);
  });
});

describe('parseCollectBody', () => {
  it('reads all hosts from {} or nothing, and named hosts once each, in order', () => {
    expect(parseCollectBody(undefined)).toBeNull();
    expect(parseCollectBody({})).toBeNull();
    expect(parseCollectBody({ hosts: ['b', 'a', 'b'] })).toEqual(['b', 'a']);
  });

  it('refuses anything else', () => {
    for (const body of [{ hosts: [] }, { hosts: 'a' }, { hosts: [''] }, { host: 'a' }, [], 'x', 3]) {
      expect(() => parseCollectBody(body)).toThrow(expect.objectContaining({ code: 'BAD_REQUEST' }));
    }
  });
});

describe('selectHosts', () => {
  const known = [
    { name: 'web-1', enabled: true },
    { name: 'db-1', enabled: true },
    { name: 'old-1', enabled: false },
  ];
  it('takes every enabled host when none are named', () => {
    expect(selectHosts(known, null)).toEqual(['web-1', 'db-1']);
  });

  it('takes the named hosts', () => {
    expect(selectHosts(known, ['db-1'])).toEqual(['db-1']);
  });

  it('lists unknown and disabled names instead of collecting less', () => {
    expect(() => selectHosts(known, ['db-1', 'nope', 'old-1'])).toThrow(
      expect.objectContaining({ code: 'BAD_REQUEST', details: { unknown: ['nope'], disabled: ['old-1'] } }),
    );
  });
});
