import { describe, expect, it } from 'vitest';
import { summaryFromAnswer } from '../src/fetch-host-client';
import { failedHost, runStatus, skippedHost } from '../src/summary';

const ok = (host: string) => ({
  host,
  fetched: 3,
  inserted: 3,
  duplicates: 0,
  batches: 1,
  checkpoint: 'c',
  error: null,
});
const bad = (host: string) => failedHost(host, { code: 'UPSTREAM_FAILED', message: 'x' });

describe('runStatus', () => {
  it('is succeeded, partial or failed by how many hosts failed', () => {
    expect(runStatus([])).toBe('succeeded');
    expect(runStatus([ok('a'), ok('b')])).toBe('succeeded');
    expect(runStatus([ok('a'), bad('b')])).toBe('partial');
    expect(runStatus([bad('a'), bad('b')])).toBe('failed');
  });

  it('is partial, never failed nor succeeded, when hosts were skipped at the time budget', () => {
    expect(runStatus([ok('a'), skippedHost('b')])).toBe('partial');
    expect(runStatus([bad('a'), skippedHost('b')])).toBe('partial');
    expect(runStatus([skippedHost('a'), skippedHost('b')])).toBe('partial');
  });
});

describe('summaryFromAnswer', () => {
  it('keeps a complete answer', () => {
    const body = JSON.stringify({
      host: 'a',
      fetched: 10,
      inserted: 7,
      duplicates: 3,
      batches: 1,
      checkpoint: 's=1',
      error: null,
    });
    expect(summaryFromAnswer('a', 200, body)).toEqual({
      host: 'a',
      fetched: 10,
      inserted: 7,
      duplicates: 3,
      batches: 1,
      checkpoint: 's=1',
      error: null,
    });
  });

  it('passes on that fetch-host stopped at its time budget with more to pull', () => {
    const body = JSON.stringify({
      host: 'a',
      fetched: 40,
      inserted: 40,
      duplicates: 0,
      batches: 2,
      checkpoint: 's=2',
      more: true,
      error: null,
    });
    expect(summaryFromAnswer('a', 200, body)).toEqual({
      host: 'a',
      fetched: 40,
      inserted: 40,
      duplicates: 0,
      batches: 2,
      checkpoint: 's=2',
      more: true,
      error: null,
    });
  });

  it('keeps the progress of a pull that stopped early, with its error', () => {
    const body = JSON.stringify({
      host: 'a',
      fetched: 5,
      inserted: 5,
      duplicates: 0,
      batches: 1,
      checkpoint: 's=5',
      error: { code: 'UPSTREAM_FAILED', message: 'agent answered 401' },
    });
    expect(summaryFromAnswer('a', 502, body)).toEqual({
      host: 'a',
      fetched: 5,
      inserted: 5,
      duplicates: 0,
      batches: 1,
      checkpoint: 's=5',
      error: { code: 'UPSTREAM_FAILED', message: 'agent answered 401' },
    });
  });

  it('turns a plain JSON error or a non-JSON answer into an error summary', () => {
    expect(
      summaryFromAnswer(
        'a',
        404,
        JSON.stringify({ error: { code: 'NOT_FOUND', message: 'unknown host "a"' } }),
      ),
    ).toEqual(failedHost('a', { code: 'NOT_FOUND', message: 'unknown host "a"' }));
    expect(summaryFromAnswer('a', 504, 'Upstream HTTP killed due to exec_timeout')).toEqual(
      failedHost('a', { code: 'UPSTREAM_FAILED', message: 'fetch-host answered 504 without JSON' }),
    );
  });
});
