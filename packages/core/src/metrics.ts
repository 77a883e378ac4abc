import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { z } from 'zod';
import { env as field, loadConfig } from './config';
import { InfralogsError } from './errors';

/**
 * Every Prometheus metric Infralogs exposes, in one table: name (`infralogs_…`, the unit in the
 * name), kind, help, label names and the part that exposes it. Parts register their metrics from
 * here (so a counter reads 0 before its first event), the rules file and the README name only
 * metrics of this table (a test checks both).
 *
 * Labels are bounded by construction: only the label names in LABELS exist, each value is
 * checked against its label's pattern and each metric keeps at most `max` distinct values per
 * label (further ones are counted as `other`). Host names and status codes, never cursors,
 * messages, paths with parameters or tokens.
 */
export const LABELS = {
  /** A registered host name (fleet-sized). */
  host: { pattern: /^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$/, max: 5000 },
  /** An HTTP status code. */
  code: { pattern: /^[1-5]\d\d$/, max: 60 },
  /** A route a server answered (not 404): a fixed path such as `/logs` or `/api/search`. */
  route: { pattern: /^\/[A-Za-z0-9._/-]{0,63}$/, max: 40 },
  /** A run status (`succeeded`, `failed`, `partial`…) or an error code of the catalogue. */
  status: { pattern: /^[A-Za-z_-]{1,40}$/, max: 30 },
  /** Why something was retried (an error code such as ECONNRESET or UPSTREAM_FAILED). */
  cause: { pattern: /^[A-Za-z0-9_-]{1,40}$/, max: 30 },
  /** The dashboard API endpoint. */
  endpoint: { pattern: /^[a-z0-9_-]{1,32}$/, max: 20 },
  /** The database role of leased credentials (writer, reader, migrator). */
  role: { pattern: /^[a-z0-9_-]{1,32}$/, max: 10 },
  /** What the rotator was doing when it failed (login, renew, rotate, token-renewal…). */
  during: { pattern: /^[a-z-]{1,32}$/, max: 20 },
  /** Why the rotator replaced credentials (max-ttl, renewal-failed…). */
  reason: { pattern: /^[a-z-]{1,32}$/, max: 20 },
} as const;
export type LabelName = keyof typeof LABELS;

export type MetricPart = 'agent' | 'http' | 'vault' | 'fetch-host' | 'collect' | 'ingest' | 'dashboard';

interface Spec {
  kind: 'counter' | 'gauge' | 'histogram';
  part: MetricPart;
  help: string;
  labels: readonly LabelName[];
  buckets?: readonly number[];
  /** Label sets that exist from the start at 0, so rules see the first increase (counters). */
  initial?: readonly Partial<Record<LabelName, string>>[];
}

const SECONDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
const LONG_SECONDS = [0.1, 0.5, 1, 5, 10, 30, 60, 120, 300, 600, 1800, 3600];
const BYTES = [1024, 16_384, 65_536, 262_144, 1_048_576, 4_194_304, 16_777_216];

export const METRICS = {
  // Every server (the agent and every function): answered requests.
  infralogs_http_requests_total: {
    kind: 'counter',
    part: 'http',
    help: 'HTTP requests answered, by route (unknown paths are "other") and status code.',
    labels: ['route', 'code'],
  },
  infralogs_http_request_duration_seconds: {
    kind: 'histogram',
    part: 'http',
    help: 'Time to answer an HTTP request (until the response ended), by route.',
    labels: ['route'],
    buckets: LONG_SECONDS,
  },

  infralogs_agent_entries_served_total: {
    kind: 'counter',
    part: 'agent',
    help: 'Journal entries sent on /logs streams.',
    labels: [],
  },
  infralogs_agent_bytes_served_total: {
    kind: 'counter',
    part: 'agent',
    help: 'NDJSON bytes sent on /logs streams, before gzip.',
    labels: [],
  },
  infralogs_agent_streams_open: {
    kind: 'gauge',
    part: 'agent',
    help: '/logs streams (journalctl children) being served now.',
    labels: [],
  },
  infralogs_agent_streams_refused_total: {
    kind: 'counter',
    part: 'agent',
    help: '/logs requests answered 429 because AGENT_MAX_STREAMS streams were open.',
    labels: [],
  },
  infralogs_agent_auth_failures_total: {
    kind: 'counter',
    part: 'agent',
    help: '/logs requests refused 401 (missing or wrong bearer token).',
    labels: [],
  },
  infralogs_agent_journalctl_failures_total: {
    kind: 'counter',
    part: 'agent',
    help: 'journalctl runs that failed (could not start, or exited non-zero before the stream ended).',
    labels: [],
  },
  infralogs_agent_journalctl_duration_seconds: {
    kind: 'histogram',
    part: 'agent',
    help: 'How long each journalctl child ran.',
    labels: [],
    buckets: LONG_SECONDS,
  },

  infralogs_fetch_entries_total: {
    kind: 'counter',
    part: 'fetch-host',
    help: 'Entries read from agents, by host.',
    labels: ['host'],
  },
  infralogs_fetch_batches_total: {
    kind: 'counter',
    part: 'fetch-host',
    help: 'Batches handed to ingest and committed, by host.',
    labels: ['host'],
  },
  infralogs_fetch_retries_total: {
    kind: 'counter',
    part: 'fetch-host',
    help: 'Agent requests retried, broken streams resumed and ingest posts retried, by host and cause.',
    labels: ['host', 'cause'],
  },
  infralogs_fetch_pulls_total: {
    kind: 'counter',
    part: 'fetch-host',
    help: 'Pulls of one host, by host and status (ok, or the error code that stopped it).',
    labels: ['host', 'status'],
  },
  infralogs_fetch_host_up: {
    kind: 'gauge',
    part: 'fetch-host',
    help: "1 when the host's last pull completed, 0 when it failed.",
    labels: ['host'],
  },
  infralogs_host_newest_entry_timestamp_seconds: {
    kind: 'gauge',
    part: 'fetch-host',
    help: 'Journal time of the newest entry stored for the host (age = time() - this).',
    labels: ['host'],
  },
  infralogs_host_checkpoint_lag_seconds: {
    kind: 'gauge',
    part: 'fetch-host',
    help: "Wall time of the last pull minus the journal time at the host's checkpoint.",
    labels: ['host'],
  },

  infralogs_collect_runs_total: {
    kind: 'counter',
    part: 'collect',
    help: 'Collection runs finished, by status (succeeded, partial, failed), and refused (CONFLICT).',
    labels: ['status'],
    initial: [{ status: 'succeeded' }, { status: 'partial' }, { status: 'failed' }],
  },
  infralogs_collect_run_duration_seconds: {
    kind: 'histogram',
    part: 'collect',
    help: 'Duration of collection runs, by status.',
    labels: ['status'],
    buckets: LONG_SECONDS,
  },
  infralogs_collect_last_run_timestamp_seconds: {
    kind: 'gauge',
    part: 'collect',
    help: 'When the last collection run finished, by status.',
    labels: ['status'],
  },
  infralogs_collect_hosts_failed: {
    kind: 'gauge',
    part: 'collect',
    help: 'Hosts whose pull failed in the last run.',
    labels: [],
  },

  infralogs_ingest_rows_inserted_total: {
    kind: 'counter',
    part: 'ingest',
    help: 'Rows written to logs, by host.',
    labels: ['host'],
  },
  infralogs_ingest_duplicates_total: {
    kind: 'counter',
    part: 'ingest',
    help: 'Entries already stored (replays), by host.',
    labels: ['host'],
  },
  infralogs_ingest_batches_total: {
    kind: 'counter',
    part: 'ingest',
    help: 'Batches answered, by status (ok, or the error code).',
    labels: ['status'],
  },
  infralogs_ingest_transaction_duration_seconds: {
    kind: 'histogram',
    part: 'ingest',
    help: 'Time to store a batch: the partition check, then the transaction up to its commit, retries included.',
    labels: [],
    buckets: SECONDS,
  },
  infralogs_ingest_deadlocks_total: {
    kind: 'counter',
    part: 'ingest',
    help: 'Transactions rolled back by a deadlock or lock wait timeout, by cause.',
    labels: ['cause'],
    initial: [{ cause: 'ER_LOCK_DEADLOCK' }, { cause: 'ER_LOCK_WAIT_TIMEOUT' }],
  },
  infralogs_ingest_retries_total: {
    kind: 'counter',
    part: 'ingest',
    help: 'Transactions retried after a deadlock or lock wait timeout.',
    labels: [],
  },
  infralogs_ingest_gaps_total: {
    kind: 'counter',
    part: 'ingest',
    help: 'Source gaps (seqnum jumps) found and recorded for the first time, by host.',
    labels: ['host'],
  },
  infralogs_ingest_batch_bytes: {
    kind: 'histogram',
    part: 'ingest',
    help: 'Size of the batch request bodies.',
    labels: [],
    buckets: BYTES,
  },

  infralogs_dashboard_request_duration_seconds: {
    kind: 'histogram',
    part: 'dashboard',
    help: 'Dashboard API latency, by endpoint.',
    labels: ['endpoint'],
    buckets: SECONDS,
  },
  infralogs_dashboard_search_rows_scanned_total: {
    kind: 'counter',
    part: 'dashboard',
    help: 'Rows the budgeted free-text searches read (the row budget used; per request: ÷ the entries endpoint count).',
    labels: [],
  },
  infralogs_vault_logins_total: {
    kind: 'counter',
    part: 'vault',
    help: 'Vault logins (AppRole, Kubernetes or token).',
    labels: [],
  },
  infralogs_vault_token_renewals_total: {
    kind: 'counter',
    part: 'vault',
    help: 'Vault token renewals.',
    labels: [],
  },
  infralogs_credentials_leases_total: {
    kind: 'counter',
    part: 'vault',
    help: 'Database credentials leased from Vault, by role.',
    labels: ['role'],
  },
  infralogs_credentials_renewals_total: {
    kind: 'counter',
    part: 'vault',
    help: 'Database credential leases renewed, by role.',
    labels: ['role'],
  },
  infralogs_credentials_rotations_total: {
    kind: 'counter',
    part: 'vault',
    help: 'Pools swapped to new credentials, by role and reason.',
    labels: ['role', 'reason'],
  },
  infralogs_credentials_revocations_total: {
    kind: 'counter',
    part: 'vault',
    help: 'Database credential leases revoked, by role.',
    labels: ['role'],
  },
  infralogs_vault_failures_total: {
    kind: 'counter',
    part: 'vault',
    help: 'Rotator and Vault failures, by step (login, renew, rotate, token-renewal…) and error code.',
    labels: ['during', 'cause'],
  },
  infralogs_credentials_lease_remaining_seconds: {
    kind: 'gauge',
    part: 'vault',
    help: 'Seconds left on the current database lease, by role (0: none).',
    labels: ['role'],
  },
} as const satisfies Record<string, Spec>;

export type MetricName = keyof typeof METRICS;
type NamesOf<K extends Spec['kind']> = {
  [N in MetricName]: (typeof METRICS)[N]['kind'] extends K ? N : never;
}[MetricName];
type LabelsOf<N extends MetricName> = (typeof METRICS)[N]['labels'][number];
export type MetricLabels<N extends MetricName> = [LabelsOf<N>] extends [never]
  ? Record<string, never>
  : Partial<Record<LabelsOf<N>, string | number>>;

const OTHER = 'other';
type Reader = () => { labels: object; value: number }[];

/**
 * A Prometheus registry holding metrics of the table. `Metrics.forProcess()` is the one a function
 * process shares (the template wrapper serves it, the Vault wiring records into it); an agent
 * makes its own, so agents started in one process (tests) stay apart.
 */
export class Metrics {
  readonly registry = new Registry();
  readonly #made = new Map<string, Counter | Gauge | Histogram>();
  readonly #seen = new Map<string, Set<string>>();
  readonly #readers = new Map<string, Set<Reader>>();

  // prom-client's default process metrics are left out: three of them break promtool's lint
  // (gauges named *_total), and the kubelet and node exporter report CPU and memory already.
  constructor(options: { parts?: MetricPart[] } = {}) {
    for (const part of options.parts ?? []) this.use(part);
  }

  static #process: Metrics | undefined;
  /** The process's shared registry (functions). */
  static forProcess(): Metrics {
    return (Metrics.#process ??= new Metrics());
  }

  /** Registers every metric of a part, so each reads 0 from the start. */
  use(part: MetricPart): this {
    for (const [name, spec] of Object.entries(METRICS) as [MetricName, Spec][]) {
      if (spec.part === part) this.#get(name);
    }
    return this;
  }

  counter<N extends NamesOf<'counter'>>(name: N) {
    const metric = this.#get(name) as Counter;
    return {
      inc: (labels: MetricLabels<N> = {} as MetricLabels<N>, value = 1) =>
        metric.inc(this.#bound(name, labels), value),
    };
  }

  gauge<N extends NamesOf<'gauge'>>(name: N) {
    const metric = this.#get(name) as Gauge;
    return {
      set: (labels: MetricLabels<N>, value: number) => metric.set(this.#bound(name, labels), value),
      inc: (labels: MetricLabels<N> = {} as MetricLabels<N>, value = 1) =>
        metric.inc(this.#bound(name, labels), value),
      dec: (labels: MetricLabels<N> = {} as MetricLabels<N>, value = 1) =>
        metric.dec(this.#bound(name, labels), value),
    };
  }

  histogram<N extends NamesOf<'histogram'>>(name: N) {
    const metric = this.#get(name) as Histogram;
    return {
      observe: (labels: MetricLabels<N>, value: number) => metric.observe(this.#bound(name, labels), value),
    };
  }

  /** A gauge whose values are read at scrape time (e.g. the lease time left); returns an unsubscribe. */
  gaugeFrom<N extends NamesOf<'gauge'>>(
    name: N,
    read: () => { labels: MetricLabels<N>; value: number }[],
  ): () => void {
    this.#get(name);
    let readers = this.#readers.get(name);
    if (!readers) this.#readers.set(name, (readers = new Set()));
    readers.add(read as Reader);
    return () => void readers.delete(read as Reader);
  }

  /** The text exposition format (what GET /metrics answers). */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  #get(name: MetricName): Counter | Gauge | Histogram {
    let metric = this.#made.get(name);
    if (metric) return metric;
    const spec: Spec = METRICS[name];
    const common = { name, help: spec.help, labelNames: [...spec.labels], registers: [this.registry] };
    if (spec.kind === 'counter') {
      const counter = new Counter(common);
      for (const labels of spec.initial ?? []) counter.inc(this.#bound(name, labels), 0);
      metric = counter;
    } else if (spec.kind === 'histogram')
      metric = new Histogram({ ...common, buckets: [...(spec.buckets ?? [])] });
    else {
      const readers = () => this.#readers.get(name);
      const bound = (labels: object) => this.#bound(name, labels);
      metric = new Gauge({
        ...common,
        collect(this: Gauge) {
          const all = readers();
          if (!all) return; // set by hand only
          // Read afresh each scrape: a reader that unsubscribed leaves no stale series behind.
          this.reset();
          for (const read of all) for (const r of read()) this.set(bound(r.labels), r.value);
        },
      });
    }
    this.#made.set(name, metric);
    return metric;
  }

  /** Label values checked against their pattern and capped per metric; anything else is `other`. */
  #bound(name: MetricName, labels: object): Partial<Record<string, string>> {
    const out: Partial<Record<string, string>> = {};
    const allowed: readonly string[] = METRICS[name].labels;
    for (const [key, raw] of Object.entries(labels)) {
      if (raw === undefined) continue;
      if (!allowed.includes(key)) throw new InfralogsError('INTERNAL', `metric ${name} has no label ${key}`);
      const rule = LABELS[key as LabelName];
      let value = String(raw);
      if (!rule.pattern.test(value)) value = OTHER;
      const seenKey = `${name}\u0000${key}`;
      let seen = this.#seen.get(seenKey);
      if (!seen) this.#seen.set(seenKey, (seen = new Set()));
      if (!seen.has(value)) {
        if (seen.size >= rule.max) value = OTHER;
        else seen.add(value);
      }
      out[key] = value;
    }
    return out;
  }
}

/** Where a process serves its /metrics: its own listener, never the port the gateway routes to. */
export const metricsEnvSchema = z.object({
  /** Port of the metrics listener; 0 = any free port; unset = no metrics listener. */
  METRICS_PORT: z.preprocess((v) => (v === '' ? undefined : v), field.port(0).optional()),
  /** Loopback by default; the image sets the pod's address (0.0.0.0) so Prometheus can scrape it. */
  METRICS_HOST: field.str('127.0.0.1'),
});

export function metricsConfigFromEnv(env: Record<string, string | undefined> = process.env) {
  const c = loadConfig(metricsEnvSchema, env);
  return c.METRICS_PORT === undefined ? null : { host: c.METRICS_HOST, port: c.METRICS_PORT };
}

export interface MetricsServer {
  url: string;
  server: Server;
  close(): Promise<void>;
}

/**
 * A listener answering only `GET /metrics` with `metrics`' text. It is a separate port on purpose:
 * OpenFaaS routes `/function/NAME/*` to a function's main port without any authentication, so
 * metrics served there would be public through the gateway.
 */
export async function startMetricsServer(
  metrics: Metrics,
  options: { host: string; port: number },
): Promise<MetricsServer> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/metrics' || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    metrics.text().then(
      (text) => {
        res.writeHead(200, { 'content-type': metrics.contentType, 'cache-control': 'no-store' });
        res.end(req.method === 'HEAD' ? undefined : text);
      },
      () => res.writeHead(500, { 'content-type': 'text/plain' }).end('metrics failed\n'),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  return {
    url: `http://${host}:${port}/metrics`,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
