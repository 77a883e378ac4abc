import { InfralogsError } from '@infralogs/core';
import { describe, expect, it } from 'vitest';
import { journalctlArgs } from '../src/journalctl';
import { parseLogsQuery, parsePriority, parseRfc3339 } from '../src/query';

const CURSOR =
  's=8c7196499b954413a742eb1e2107fa5d;i=1;b=0ffe5f74a4bd49ca8597eb05fe1a512a;m=39f445;t=6225212a5b6da;x=3f056d2626450d83';
const limits = { limitDefault: 100, limitMax: 1000 };
const parse = (q: string) => parseLogsQuery(new URLSearchParams(q), limits);
const code = (q: string) => {
  try {
    parse(q);
    return 'ok';
  } catch (err) {
    return `${(err as InfralogsError).code}:${String((err as InfralogsError).details?.param ?? '')}`;
  }
};

describe('parseLogsQuery', () => {
  it('gives defaults for an empty query', () => {
    expect(parse('')).toEqual({
      after: null,
      sinceUs: null,
      untilUs: null,
      priority: null,
      unit: null,
      limit: 100,
    });
  });

  it('reads every parameter', () => {
    const q = parse(
      `after=${encodeURIComponent(CURSOR)}&until=2026-01-01T00:00:00.5%2B01:00&priority=err..info&unit=ssh.service&limit=1000`,
    );
    expect(q).toEqual({
      after: CURSOR,
      sinceUs: null,
      untilUs: Date.UTC(2025, 11, 31, 23) * 1000 + 500_000,
      priority: { from: 3, to: 6 },
      unit: 'ssh.service',
      limit: 1000,
    });
  });

  it.each([
    ['after=garbage', 'BAD_CURSOR:'],
    ['nope=1', 'BAD_QUERY:nope'],
    ['limit=1&limit=2', 'BAD_QUERY:limit'],
    ['limit=0', 'BAD_QUERY:limit'],
    ['limit=1001', 'BAD_QUERY:limit'],
    ['limit=12abc', 'BAD_QUERY:limit'],
    ['limit=-5', 'BAD_QUERY:limit'],
    ['since=yesterday', 'BAD_QUERY:since'],
    ['since=2026-02-30T00:00:00Z', 'BAD_QUERY:since'],
    ['since=2026-01-01T24:00:00Z', 'BAD_QUERY:since'],
    ['since=2026-01-01T00:00:00', 'BAD_QUERY:since'],
    ['until=1969-12-31T23:59:59Z', 'BAD_QUERY:until'],
    ['since=2026-01-02T00:00:00Z&until=2026-01-01T00:00:00Z', 'BAD_QUERY:since'],
    [`after=${encodeURIComponent(CURSOR)}&since=2026-01-01T00:00:00Z`, 'BAD_QUERY:since'],
    ['priority=8', 'BAD_QUERY:priority'],
    ['priority=loud', 'BAD_QUERY:priority'],
    ['priority=1..2..3', 'BAD_QUERY:priority'],
    ['unit=-oexport', 'BAD_QUERY:unit'],
    ['unit=a b', 'BAD_QUERY:unit'],
    ['unit=a;rm', 'BAD_QUERY:unit'],
  ])('%s → %s', (q, expected) => {
    expect(code(q)).toBe(expected);
  });
});

describe('parseRfc3339', () => {
  it('keeps microseconds and applies the offset', () => {
    expect(parseRfc3339('2026-01-01T00:00:00.123456789Z', 'since')).toBe(
      Date.UTC(2026, 0, 1) * 1000 + 123456,
    );
    expect(parseRfc3339('2026-01-01 01:30:00-01:30', 'since')).toBe(Date.UTC(2026, 0, 1, 3) * 1000);
    expect(parseRfc3339('2024-02-29t12:00:00z', 'since')).toBe(Date.UTC(2024, 1, 29, 12) * 1000);
  });
});

describe('parsePriority', () => {
  it('reads a level as "that and more severe", names and ranges in either order', () => {
    expect(parsePriority('3')).toEqual({ from: 0, to: 3 });
    expect(parsePriority('warning')).toEqual({ from: 0, to: 4 });
    expect(parsePriority('info..err')).toEqual({ from: 3, to: 6 });
    expect(parsePriority('0..7')).toEqual({ from: 0, to: 7 });
  });
});

describe('journalctlArgs', () => {
  it('uses --cursor (not --after-cursor), UTC epoch times and numeric priorities', () => {
    const q = parse(
      `after=${encodeURIComponent(CURSOR)}&until=2026-01-01T00:00:00.000001Z&priority=warning&unit=ssh.service`,
    );
    expect(journalctlArgs(q, '/var/log/journal')).toEqual([
      '--all',
      '--output=export',
      '--no-pager',
      '--quiet',
      '--directory=/var/log/journal',
      `--cursor=${CURSOR}`,
      '--until=@1767225600.000001',
      '--priority=0..4',
      '--unit=ssh.service',
    ]);
    expect(journalctlArgs(parse('since=1970-01-01T00:00:01Z'), null)).toEqual([
      '--all',
      '--output=export',
      '--no-pager',
      '--quiet',
      '--since=@1.000000',
    ]);
  });
});
