import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { freePort, run, startProcess, waitFor, type Managed } from './process';

/**
 * Debian's Prometheus (`prometheus`, `promtool`) for tests and the local stack: checking an
 * endpoint's exposition text, checking and unit-testing rules files, and a real server on
 * loopback with its own data directory.
 */
export const PROMETHEUS = 'prometheus';
export const PROMTOOL = 'promtool';

/** `promtool check metrics` on exposition text; rejects with promtool's findings. */
export async function promtoolCheckMetrics(text: string): Promise<void> {
  await run(PROMTOOL, ['check', 'metrics'], { input: text });
}

/** `promtool check rules FILE…`; resolves with its report. */
export async function promtoolCheckRules(...files: string[]): Promise<string> {
  const { stdout } = await run(PROMTOOL, ['check', 'rules', ...files]);
  return stdout;
}

/** `promtool test rules FILE…` (rule unit tests); resolves with its report. */
export async function promtoolTestRules(...files: string[]): Promise<string> {
  const { stdout } = await run(PROMTOOL, ['test', 'rules', ...files]);
  return stdout;
}

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The samples of exposition text (comments skipped), for cardinality and content checks. */
export function parseExposition(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m) throw new Error(`not an exposition line: ${line.slice(0, 200)}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[l[1]!] = l[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    }
    samples.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return samples;
}

export interface ScrapeTarget {
  job: string;
  /** `host:port` */
  address: string;
  labels?: Record<string, string>;
}

export interface RunningPrometheus {
  url: string;
  stop(): Promise<void>;
  /** Instant query; the `data.result` vector. */
  query(expr: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]>;
  /** Active alerts (pending or firing). */
  alerts(): Promise<{ labels: Record<string, string>; state: string }[]>;
  /** The active scrape targets: job, the URL scraped and whether the last scrape worked. */
  targets(): Promise<{ job: string; scrapeUrl: string; health: string }[]>;
  /** Waits until every target has been scraped once and is up. */
  waitForTargets(timeoutMs?: number): Promise<void>;
}

/**
 * Starts `prometheus` on loopback with its own data directory under `dir`, scraping `targets`
 * every `scrapeInterval` and evaluating `ruleFiles`. Stops with SIGTERM; the caller removes `dir`.
 */
export async function startPrometheus(options: {
  dir: string;
  targets: ScrapeTarget[];
  ruleFiles?: string[];
  scrapeInterval?: string;
  evaluationInterval?: string;
  host?: string;
  port?: number;
}): Promise<RunningPrometheus> {
  const host = options.host ?? '127.0.0.1';
  const port = options.port ?? (await freePort(host));
  const dataDir = join(options.dir, 'data');
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const configFile = join(options.dir, 'prometheus.yml');
  await writeFile(configFile, prometheusConfig(options));
  const proc: Managed = startProcess(PROMETHEUS, [
    `--config.file=${configFile}`,
    `--storage.tsdb.path=${dataDir}`,
    `--web.listen-address=${host}:${port}`,
    '--log.level=warn',
  ]);
  const url = `http://${host}:${port}`;
  const api = async <T>(path: string): Promise<T> => {
    const res = await fetch(`${url}${path}`);
    const body = (await res.json()) as { status: string; data: T; error?: string };
    if (body.status !== 'success') throw new Error(`prometheus ${path}: ${body.error ?? res.status}`);
    return body.data;
  };
  try {
    await waitFor(
      'prometheus to be ready',
      async () => {
        if (proc.child.exitCode !== null) throw new Error(`prometheus exited: ${proc.output().slice(-2000)}`);
        return fetch(`${url}/-/ready`).then(
          (r) => r.ok,
          () => false,
        );
      },
      30_000,
    );
  } catch (err) {
    await proc.stop('SIGKILL');
    throw err;
  }
  return {
    url,
    stop: () => proc.stop('SIGTERM', 10_000).then(() => undefined),
    query: async (expr) =>
      (
        await api<{ result: { metric: Record<string, string>; value: [number, string] }[] }>(
          `/api/v1/query?query=${encodeURIComponent(expr)}`,
        )
      ).result,
    alerts: async () =>
      (await api<{ alerts: { labels: Record<string, string>; state: string }[] }>('/api/v1/alerts')).alerts,
    targets: async () =>
      (
        await api<{ activeTargets: { labels: { job: string }; scrapeUrl: string; health: string }[] }>(
          '/api/v1/targets?state=active',
        )
      ).activeTargets.map((t) => ({ job: t.labels.job, scrapeUrl: t.scrapeUrl, health: t.health })),
    waitForTargets: (timeoutMs = 30_000) =>
      waitFor(
        'every scrape target to be up',
        async () => {
          const data = await api<{ activeTargets: { health: string }[] }>('/api/v1/targets?state=active');
          return data.activeTargets.length > 0 && data.activeTargets.every((t) => t.health === 'up');
        },
        timeoutMs,
        200,
      ),
  };
}

/** The prometheus.yml for a target list: one scrape job per `job`, static targets. */
export function prometheusConfig(options: {
  targets: ScrapeTarget[];
  ruleFiles?: string[];
  scrapeInterval?: string;
  evaluationInterval?: string;
}): string {
  const jobs = new Map<string, ScrapeTarget[]>();
  for (const t of options.targets) jobs.set(t.job, [...(jobs.get(t.job) ?? []), t]);
  const lines = [
    'global:',
    `  scrape_interval: ${options.scrapeInterval ?? '2s'}`,
    `  evaluation_interval: ${options.evaluationInterval ?? '1s'}`,
  ];
  if (options.ruleFiles?.length) {
    lines.push('rule_files:', ...options.ruleFiles.map((f) => `  - ${JSON.stringify(f)}`));
  }
  lines.push('scrape_configs:');
  for (const [job, targets] of jobs) {
    lines.push(`  - job_name: ${JSON.stringify(job)}`, '    static_configs:');
    for (const t of targets) {
      lines.push(`      - targets: [${JSON.stringify(t.address)}]`);
      if (t.labels && Object.keys(t.labels).length) {
        lines.push('        labels:');
        for (const [k, v] of Object.entries(t.labels)) lines.push(`          ${k}: ${JSON.stringify(v)}`);
      }
    }
  }
  return lines.join('\n') + '\n';
}
