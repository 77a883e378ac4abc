import { describe, expect, it } from 'vitest';
import {
  checkBasePath,
  DEFAULT_LIMIT,
  levelName,
  MAX_HOURS,
  parseEntriesQuery,
  parseFilterQuery,
  parsePriority,
  parseTime,
  renderPage,
} from '../src';

/**
 * The dashboard's database-free parts, run by its `npm test` in the image build: query parameters,
 * the shared filter and the page. The API against MariaDB is tested in api.test.ts.
 */
const refused = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    return (err as { code?: string; details?: { param?: string } }).details?.param ?? 'refused';
  }
  return null;
};
const NOW = new Date('2026-11-30T10:20:00Z');
const HOUR = 3_600_000;

describe('query parameters', () => {
  it('have defaults and bounds, and refuse unknown or repeated parameters', () => {
    const { filter } = parseFilterQuery({}, NOW);
    expect(filter).toMatchObject({ preset: '24h', hosts: [], priority: null, text: null });
    expect(filter.toMs).toBe(Date.parse('2026-11-30T11:00:00Z'));
    expect(filter.toMs - filter.fromMs).toBe(24 * HOUR);
    expect(parseFilterQuery({ hours: String(MAX_HOURS) }, NOW).filter.preset).toBeNull();
    expect(refused(() => parseFilterQuery({ hours: String(MAX_HOURS + 1) }, NOW))).toBe('hours');
    expect(refused(() => parseFilterQuery({ hours: '1.5' }, NOW))).toBe('hours');
    expect(refused(() => parseFilterQuery({ nope: '1' }, NOW))).toBe('nope');
    expect(refused(() => parseFilterQuery({ hours: ['1', '2'] }, NOW))).toBe('hours');
    expect(refused(() => parseFilterQuery({ range: '2y' }, NOW))).toBe('range');
    expect(parseFilterQuery({ host: 'web-1,db-1,web-1' }, NOW).filter.hosts).toEqual(['web-1', 'db-1']);
    expect(refused(() => parseFilterQuery({ host: 'a\nb' }, NOW))).toBe('host');
  });

  it('take a custom from/to range, never with a preset and never backwards', () => {
    const { filter } = parseFilterQuery({ from: '2026-11-29T00:00:00Z', to: '2026-11-29T06:00:00Z' }, NOW);
    expect([filter.fromMs, filter.toMs]).toEqual([
      Date.parse('2026-11-29T00:00:00Z'),
      Date.parse('2026-11-29T06:00:00Z'),
    ]);
    expect(filter.preset).toBeNull();
    expect(refused(() => parseFilterQuery({ range: '1h', from: '2026-11-29T00:00:00Z' }, NOW))).toBe('range');
    expect(
      refused(() => parseFilterQuery({ from: '2026-11-29T06:00:00Z', to: '2026-11-29T00:00:00Z' }, NOW)),
    ).toBe('from');
  });

  it('read priorities as journalctl -p does: a level, a name, or a range', () => {
    expect(parsePriority('3')).toEqual({ from: 0, to: 3 });
    expect(parsePriority('err')).toEqual({ from: 0, to: 3 });
    expect(parsePriority('err..info')).toEqual({ from: 3, to: 6 });
    expect(refused(() => parsePriority('loud'))).toBe('priority');
  });

  it('take times as real UTC times, in the column form', () => {
    expect(parseTime('2026-11-30T12:00:00.5Z', 'before')).toBe('2026-11-30 12:00:00.500000');
    expect(refused(() => parseTime('2026-02-30T12:00:00Z', 'before'))).toBe('before');
    const entries = parseEntriesQuery({}, NOW);
    expect([entries.limit, entries.before]).toEqual([DEFAULT_LIMIT, null]);
  });
});

describe('levels and the page', () => {
  it('name the levels as journald does', () => {
    expect([levelName(0), levelName(7)]).toEqual(['emerg', 'debug']);
  });

  it('serve the page under a checked base path', () => {
    expect(renderPage(checkBasePath('/function/dashboard/'))).toContain('<base href="/function/dashboard/">');
    expect(refused(() => checkBasePath('javascript:alert(1)'))).toBe('refused');
  });
});
