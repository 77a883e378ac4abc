import { readdir, readFile } from 'node:fs/promises';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LABELS } from '@infralogs/core';
import { parseExposition, promtoolCheckMetrics, waitFor } from '@infralogs/devkit';
import { startLocalStack, type LocalStack } from '../../src/stack';
import { operatorPool } from '../../src/stack/database';

/**
 * Infralogs watching itself on the local stack: the real Prometheus (Debian's package) scrapes
 * every agent's and function's metrics listener and evaluates deploy/prometheus's rules file.
 */
let stack: LocalStack;

beforeAll(async () => {
  stack = await startLocalStack({
    stateDir: await mkdtemp(join(tmpdir(), 'infralogs-metrics-')),
    gatewayPort: 0,
    useMachineJournal: false,
    collectOnStart: false,
    prometheusInterval: '1s',
  });
  await stack.prometheus.waitForTargets(60_000);
}, 240_000);

afterAll(async () => {
  await stack?.stop();
  if (stack) await rm(stack.stateDir, { recursive: true, force: true });
}, 120_000);

/** Every secret the stack made: caller tokens, AppRole ids, agent tokens, OpenBao's root token, MariaDB's admin password. */
async function stackSecrets(): Promise<string[]> {
  const values = [stack.vault.rootToken, stack.topology.admin.password];
  const exporterCnf = await readFile(join(stack.stateDir, 'mysqld-exporter.cnf'), 'utf8');
  values.push(/^password=(.*)$/m.exec(exporterCnf)![1]!);
  const secretsRoot = join(stack.stateDir, 'secrets');
  for (const fn of await readdir(secretsRoot)) {
    for (const file of await readdir(join(secretsRoot, fn))) {
      values.push((await readFile(join(secretsRoot, fn, file), 'utf8')).trim());
    }
  }
  for (const host of stack.hosts) {
    const tokens = await readFile(join(stack.stateDir, 'agents', host.name, 'tokens'), 'utf8');
    values.push(...tokens.split('\n').filter((l) => l.trim() && !l.startsWith('#')));
  }
  return values.filter((v) => v.length >= 8);
}

async function rowsPerHost(): Promise<Record<string, number>> {
  const pool = operatorPool(stack.topology);
  try {
    const [rows] = await pool.query<RowDataPacket[]>(
      'SELECT h.name AS host, COUNT(*) AS n FROM logs l JOIN hosts h ON h.id = l.host_id GROUP BY h.name',
    );
    return Object.fromEntries(rows.map((r) => [r.host as string, Number(r.n)]));
  } finally {
    await pool.end();
  }
}

async function vector(expr: string): Promise<Record<string, number>> {
  const result = await stack.prometheus.query(expr);
  return Object.fromEntries(result.map((r) => [r.metric.host ?? '', Number(r.value[1])]));
}

describe('metrics on the local stack', () => {
  it('after a collection, Prometheus counts the rows MySQL holds, host by host', async () => {
    const run = await stack.collect();
    expect(run.status).toBe('succeeded');
    const stored = await rowsPerHost();
    expect(Object.keys(stored).sort()).toEqual(stack.hosts.map((h) => h.name).sort());
    const total = Object.values(stored).reduce((a, b) => a + b, 0);
    const allUp = Object.fromEntries(stack.hosts.map((h) => [h.name, 1]));
    // Each target is scraped on its own schedule: wait until every scrape came after the run.
    const expected = {
      'sum by (host) (infralogs_ingest_rows_inserted_total)': stored,
      // fetch-host read as many entries as ingest inserted (a fresh stack has no duplicates).
      'sum by (host) (infralogs_fetch_entries_total)': stored,
      'sum by (host) (infralogs_fetch_host_up)': allUp,
      'sum(infralogs_agent_entries_served_total)': { '': total },
      'sum(infralogs_collect_runs_total{status="succeeded"})': { '': 1 },
    };
    const sorted = (v: Record<string, number>) => JSON.stringify(Object.entries(v).sort());
    let seen: Record<string, Record<string, number>> = {};
    await waitFor(
      'Prometheus to scrape the counts of the collection',
      async () => {
        seen = {};
        for (const expr of Object.keys(expected)) seen[expr] = await vector(expr);
        return Object.entries(expected).every(([expr, want]) => sorted(seen[expr]!) === sorted(want));
      },
      30_000,
      250,
    ).catch((err: Error) => {
      throw new Error(
        `${err.message}; Prometheus: ${JSON.stringify(seen)}, MySQL: ${JSON.stringify(stored)}`,
      );
    });
    expect(seen).toEqual(expected);
    // mysqld_exporter reports the replica's lag for InfralogsReplicaLag, which stays inactive.
    const lag = await vector('max(mysql_slave_status_seconds_behind_master)');
    expect(lag['']).toBeGreaterThanOrEqual(0);
    expect(lag['']).toBeLessThan(300);
    // The writer's credentials were leased through the rotator, and their lease time is shown.
    expect(
      (await vector('min(infralogs_credentials_lease_remaining_seconds{role="writer"})'))[''],
    ).toBeGreaterThan(0);
  }, 120_000);

  it('every endpoint passes promtool check metrics, exposes no secret and only bounded labels', async () => {
    // One API call behind the login, so the dashboard has answered something to count.
    const login = await fetch(`${stack.dashboardUrl}/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ user: stack.dashboardLogin.user, password: stack.dashboardLogin.password }),
    });
    expect(login.status).toBe(200);
    const cookie = login.headers.get('set-cookie')!.split(';')[0]!;
    expect((await fetch(`${stack.dashboardUrl}/api/summary`, { headers: { cookie } })).status).toBe(200);
    const targets = await stack.prometheus.targets();
    expect(new Set(targets.map((t) => t.job))).toEqual(
      new Set(['agent', 'collect', 'fetch-host', 'ingest', 'dashboard', 'mysql-replica']),
    );
    const secrets = await stackSecrets();
    expect(secrets.length).toBeGreaterThan(stack.hosts.length + 3);
    const hosts = new Set(stack.hosts.map((h) => h.name));
    for (const target of targets) {
      const res = await fetch(target.scrapeUrl);
      expect(res.status, target.scrapeUrl).toBe(200);
      const text = await res.text();
      for (const secret of secrets)
        expect(text.includes(secret), `${target.job} exposes a secret`).toBe(false);
      if (target.job === 'mysql-replica') continue; // mysqld_exporter's own names: not ours to lint
      await promtoolCheckMetrics(text);
      const samples = parseExposition(text);
      expect(samples.length).toBeGreaterThan(0);
      expect(samples.length, `${target.job}: series`).toBeLessThan(600);
      for (const s of samples) {
        expect(s.name).toMatch(/^infralogs_/);
        for (const [label, value] of Object.entries(s.labels)) {
          if (label === 'le') continue; // histogram buckets
          expect(Object.keys(LABELS), `${s.name}: label ${label}`).toContain(label);
          expect(value).toMatch(LABELS[label as keyof typeof LABELS].pattern);
          if (label === 'host') expect(hosts.has(value) || value === 'other', value).toBe(true);
        }
      }
    }
  }, 120_000);

  it("stopping an agent makes its host's rule go pending", async () => {
    const [down, ...up] = stack.hosts.map((h) => h.name);
    await stack.stopAgent(down!);
    const run = await stack.collect();
    expect(run.status).toBe('partial');
    let alerts: { labels: Record<string, string>; state: string }[] = [];
    await waitFor(
      'InfralogsHostSilent to go pending',
      async () => {
        alerts = (await stack.prometheus.alerts()).filter(
          (a) => a.labels.alertname === 'InfralogsHostSilent',
        );
        return alerts.some((a) => a.labels.host === down);
      },
      30_000,
      250,
    );
    // Pending, not firing: it fires after 36 h of failed pulls; the hosts still up are not in it.
    expect(alerts.map((a) => [a.labels.host, a.state])).toEqual([[down, 'pending']]);
    for (const host of up) expect(alerts.some((a) => a.labels.host === host)).toBe(false);
    await waitFor(
      'Prometheus to see the partial run',
      async () => {
        const partial = await vector('sum(infralogs_collect_runs_total{status="partial"})');
        return partial[''] === 1;
      },
      30_000,
      250,
    );
  }, 120_000);
});
