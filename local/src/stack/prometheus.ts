import { join } from 'node:path';
import { repoRoot, startPrometheus, type RunningPrometheus, type ScrapeTarget } from '@infralogs/devkit';
import type { FunctionInfo } from '../gateway';
import type { Progress } from './progress';
import type { StackAgent } from './agents';

/** The alert rules the cluster uses (deploy/prometheus), evaluated by the local Prometheus too. */
export const RULES_FILE = join(repoRoot, 'deploy/prometheus/infralogs-rules.yml');

/**
 * A real Prometheus (Debian's `prometheus`) on 127.0.0.1 scraping every part of the stack: each
 * function's metrics port (job = the function's name, as the cluster's pod scrape config names
 * them), each agent's metrics listener (job `agent`, label `agent`) and mysqld_exporter on the
 * replica (job `mysql-replica`), with the repository's
 * alert rules. Its data directory lives under the stack's state directory and goes with it.
 */
export async function startStackPrometheus(options: {
  stateDir: string;
  functions: FunctionInfo[];
  agents: StackAgent[];
  /** mysqld_exporter's `host:port` (job `mysql-replica`). */
  exporter: string;
  progress: Progress;
  scrapeInterval?: string;
}): Promise<RunningPrometheus> {
  const targets: ScrapeTarget[] = [
    ...options.functions.map((f) => ({ job: f.name, address: `127.0.0.1:${f.metricsPort}` })),
    ...options.agents.map((a) => ({ job: 'agent', address: a.metricsAddress, labels: { agent: a.host } })),
    { job: 'mysql-replica', address: options.exporter },
  ];
  const interval = options.scrapeInterval ?? '5s';
  const prometheus = await startPrometheus({
    dir: join(options.stateDir, 'prometheus'),
    targets,
    ruleFiles: [RULES_FILE],
    scrapeInterval: interval,
    evaluationInterval: interval,
  });
  options.progress(`Prometheus on ${prometheus.url} scraping ${targets.length} targets`);
  return prometheus;
}
