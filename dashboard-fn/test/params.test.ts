import { describe, expect, it } from 'vitest';
import {
  checkBasePath,
  DEFAULT_HOURS,
  DEFAULT_LIMIT,
  levelName,
  MAX_HOURS,
  parseBefore,
  parseEntriesQuery,
  parsePriority,
  parseVolumeQuery,
  parseWindowQuery,
  renderPage,
  windowOf,
} from '../src';

/**
 * The dashboard's database-free parts, run by its `npm test` in the image build: query parameters,
 * time windows and the page. The API against MariaDB is tested in api.test.ts.
 */
const refused = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    return (err as { code?: string; details?: { param?: string } }).details?.param ?? 'refused';
  }
  return null;
};

describe('query parameters', () => {
  it('have defaults and bounds, and refuse unknown or repeated parameters', () => {
    expect(parseWindowQuery({})).toEqual({ hours: DEFAULT_HOURS });
    expect(parseWindowQuery({ hours: String(MAX_HOURS) })).toEqual({ hours: MAX_HOURS });
    expect(refused(() => parseWindowQuery({ hours: String(MAX_HOURS + 1) }))).toBe('hours');
    expect(refused(() => parseWindowQuery({ hours: '1.5' }))).toBe('hours');
    expect(refused(() => parseWindowQuery({ nope: '1' }))).toBe('nope');
    expect(refused(() => parseWindowQuery({ hours: ['1', '2'] }))).toBe('hours');
    expect(parseVolumeQuery({ host: 'web-1' })).toEqual({ hours: DEFAULT_HOURS, host: 'web-1' });
    expect(refused(() => parseVolumeQuery({ host: 'a\nb' }))).toBe('host');
  });

  it('read priorities as journalctl -p does: a level, a name, or a range', () => {
    expect(parsePriority('3')).toEqual({ from: 0, to: 3 });
    expect(parsePriority('err')).toEqual({ from: 0, to: 3 });
    expect(parsePriority('err..info')).toEqual({ from: 3, to: 6 });
    expect(refused(() => parsePriority('loud'))).toBe('priority');
  });

  it('take `before` as a real UTC time, in the column form', () => {
    expect(parseBefore('2026-11-30T12:00:00.5Z')).toBe('2026-11-30 12:00:00.500000');
    expect(refused(() => parseBefore('2026-02-30T12:00:00Z'))).toBe('before');
    expect(parseEntriesQuery({})).toEqual({ host: null, priority: null, limit: DEFAULT_LIMIT, before: null });
  });
});

describe('windows, levels and the page', () => {
  it('count whole hours back from the end of the current one', () => {
    const w = windowOf(2, new Date('2026-11-30T10:20:00Z'));
    expect([w.from, w.to]).toEqual(['2026-11-30T09:00:00Z', '2026-11-30T11:00:00Z']);
    expect([levelName(0), levelName(7), levelName(-1)]).toEqual(['emerg', 'debug', 'none']);
  });

  it('serve the page under a checked base path', () => {
    expect(renderPage(checkBasePath('/function/dashboard/'))).toContain('<base href="/function/dashboard/">');
    expect(refused(() => checkBasePath('javascript:alert(1)'))).toBe('refused');
  });
});
