import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '@infralogs/core';
import {
  datasetLines,
  makeJournalDir,
  parseExposition,
  promtoolCheckMetrics,
  syslogToExport,
} from '@infralogs/devkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, type RunningAgent } from '../src/index';

/**
 * The agent's metrics listener: a second port, no token, nothing but GET /metrics. A real
 * journal (systemd-journal-remote) read by the real journalctl.
 */
const TOKEN = 'metrics-test-token-0123456789';
let work: string;
let agent: RunningAgent;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'infralogs-agent-metrics-'));
  const tokensFile = join(work, 'tokens');
  await writeFile(tokensFile, `${TOKEN}\n`);
  const journalDir = await makeJournalDir(
    syslogToExport(datasetLines('OpenSSH_2k').slice(0, 40), { hostname: 'metrics-host', boots: 1 }),
    join(work, 'journal'),
  );
  agent = await startAgent(
    { host: '127.0.0.1', port: 0, tokensFile, journalDir, metricsHost: '127.0.0.1', metricsPort: 0 },
    createLogger({}, { write: () => {} }),
  );
});

afterAll(async () => {
  await agent?.close();
  await rm(work, { recursive: true, force: true });
});

describe('agent metrics', () => {
  it('counts entries, bytes, refusals and requests on its own port, in a format promtool accepts', async () => {
    expect(agent.metricsUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    expect(agent.metricsUrl).not.toContain(new URL(agent.url).port + '/');
    expect((await fetch(`${agent.url}/logs`)).status).toBe(401);
    const res = await fetch(`${agent.url}/logs?limit=100`, { headers: { authorization: `Bearer ${TOKEN}` } });
    const body = await res.text();
    const entries = body.split('\n').filter(Boolean).length;
    expect(entries).toBeGreaterThan(0);
    // The token-protected port does not serve metrics; the metrics port serves nothing else.
    expect((await fetch(`${agent.url}/metrics`)).status).toBe(404);
    expect((await fetch(agent.metricsUrl!.replace('/metrics', '/logs'))).status).toBe(404);

    const text = await (await fetch(agent.metricsUrl!)).text();
    await promtoolCheckMetrics(text);
    expect(text).not.toContain(TOKEN);
    expect(text).not.toMatch(/cursor|s=[0-9a-f]{32}/);
    const value = (name: string, labels: Record<string, string> = {}) =>
      parseExposition(text).find(
        (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
      )?.value;
    expect(value('infralogs_agent_entries_served_total')).toBe(entries);
    expect(value('infralogs_agent_bytes_served_total')).toBe(Buffer.byteLength(body));
    expect(value('infralogs_agent_auth_failures_total')).toBe(1);
    expect(value('infralogs_agent_streams_refused_total')).toBe(0);
    expect(value('infralogs_agent_streams_open')).toBe(0);
    expect(value('infralogs_agent_journalctl_duration_seconds_count')).toBe(1);
    expect(value('infralogs_http_requests_total', { route: '/logs', code: '401' })).toBe(1);
    expect(value('infralogs_http_requests_total', { route: '/logs', code: '200' })).toBe(1);
    expect(value('infralogs_http_requests_total', { route: 'other', code: '404' })).toBe(1);
  });
});
