import { describe, expect, it } from 'vitest';
import { parseExposition, promtoolCheckMetrics } from '@infralogs/devkit';
import { LABELS, METRICS, Metrics, recordRotatorEvent, startMetricsServer } from '../src';

describe('metrics', () => {
  it('names every metric infralogs_… with its unit, and only bounded labels', () => {
    for (const [name, spec] of Object.entries(METRICS)) {
      expect(name).toMatch(/^infralogs_[a-z_]+$/);
      if (spec.kind === 'counter') expect(name).toMatch(/_total$/);
      if (spec.kind === 'histogram') expect(name).toMatch(/_(seconds|bytes|ratio)$/);
      for (const label of spec.labels) expect(Object.keys(LABELS)).toContain(label);
    }
  });

  it('serves every metric of every part in a format promtool accepts', async () => {
    const metrics = new Metrics({
      parts: ['agent', 'http', 'vault', 'fetch-host', 'collect', 'ingest', 'dashboard'],
    });
    metrics.counter('infralogs_fetch_entries_total').inc({ host: 'web-1' }, 3);
    metrics.counter('infralogs_http_requests_total').inc({ route: '/logs', code: 200 });
    metrics.histogram('infralogs_ingest_transaction_duration_seconds').observe({}, 0.2);
    metrics.gaugeFrom('infralogs_credentials_lease_remaining_seconds', () => [
      { labels: { role: 'writer' }, value: 42 },
    ]);
    recordRotatorEvent(
      { type: 'rotated', reason: 'max-ttl', leaseId: 'x', previousLeaseId: 'y' },
      'writer',
      metrics,
    );
    const server = await startMetricsServer(metrics, { host: '127.0.0.1', port: 0 });
    try {
      const res = await fetch(server.url);
      expect(res.headers.get('content-type')).toContain('text/plain');
      const text = await res.text();
      await promtoolCheckMetrics(text);
      const samples = parseExposition(text);
      const get = (name: string) => samples.find((s) => s.name === name);
      expect(get('infralogs_fetch_entries_total')).toMatchObject({ labels: { host: 'web-1' }, value: 3 });
      expect(get('infralogs_credentials_lease_remaining_seconds')).toMatchObject({ value: 42 });
      expect(get('infralogs_credentials_rotations_total')).toMatchObject({
        labels: { role: 'writer', reason: 'max-ttl' },
      });
      expect(get('infralogs_fetch_pulls_total')).toBeUndefined(); // labelled: no series before the first
      expect(get('infralogs_ingest_deadlocks_total')?.value).toBe(0); // initial label sets read 0
      expect(get('infralogs_agent_auth_failures_total')?.value).toBe(0);
      expect(samples.every((s) => s.name.startsWith('infralogs_'))).toBe(true);
      expect((await fetch(server.url.replace('/metrics', '/other'))).status).toBe(404);
    } finally {
      await server.close();
    }
  });

  it('turns values outside a label pattern, and values past its cap, into "other"', async () => {
    const metrics = new Metrics();
    const requests = metrics.counter('infralogs_http_requests_total');
    requests.inc({ route: '/api/search?q=secret', code: 200 });
    requests.inc({ route: '/x', code: 'nonsense' });
    for (let i = 0; i < LABELS.route.max + 20; i++) requests.inc({ route: `/r${i}`, code: 200 });
    const pulls = metrics.counter('infralogs_fetch_pulls_total');
    pulls.inc({ host: 'cursor=s=abc;i=1', status: 'the message of an error' });
    const samples = parseExposition(await metrics.text());
    const routes = new Set(samples.map((s) => s.labels.route).filter(Boolean));
    expect(routes.size).toBeLessThanOrEqual(LABELS.route.max + 1);
    expect(routes.has('other')).toBe(true);
    expect([...routes].some((r) => r!.includes('secret'))).toBe(false);
    expect(samples.find((s) => s.name === 'infralogs_fetch_pulls_total')?.labels).toEqual({
      host: 'other',
      status: 'other',
    });
    expect(() => metrics.counter('infralogs_http_requests_total').inc({ cursor: 'x' } as never)).toThrow(
      /no label cursor/,
    );
  });
});
