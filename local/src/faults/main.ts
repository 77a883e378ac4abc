import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { FAULTS, runFaultMatrix, type FaultName } from './matrix';

/**
 * `npm run faults -- --hosts 10 --entries 100000`: the full fault matrix (docs/guarantees.md) on
 * a local stack of its own in a temporary directory, removed afterwards unless --keep. Progress
 * and each fault's findings go to stderr; the last lines are `RESULT` lines; the exit code is 1
 * when any fault broke a guarantee.
 */
const USAGE = `usage: npm run faults -- [--hosts N] [--entries N] [--faults a,b] [--vault-outage-ms MS]
                          [--batch-entries N] [--keep]
  --hosts N            agents collected at once (default 10, at most 20)
  --entries N          entries per host over the whole matrix, split over the rounds (default 100000)
  --faults a,b         only these faults (default all: ${FAULTS.join(', ')})
  --vault-outage-ms    how long OpenBao stays stopped (default 30000)
  --batch-entries N    fetch-host's BATCH_MAX_ENTRIES (default: about 20 batches per host per round)
  --keep               keep the stack's state directory (logs of every process) and print where`;

function options() {
  const { values } = parseArgs({
    options: {
      hosts: { type: 'string', default: '10' },
      entries: { type: 'string', default: '100000' },
      faults: { type: 'string' },
      'vault-outage-ms': { type: 'string', default: '30000' },
      'batch-entries': { type: 'string' },
      keep: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const int = (name: string, value: string | undefined, min: number, max: number) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max)
      throw new Error(`--${name} must be an integer ${min}..${max}`);
    return n;
  };
  const faults = (values.faults?.split(',').filter(Boolean) ?? [...FAULTS]) as FaultName[];
  const unknown = faults.filter((f) => !(FAULTS as readonly string[]).includes(f));
  if (unknown.length > 0)
    throw new Error(`unknown faults: ${unknown.join(', ')} (known: ${FAULTS.join(', ')})`);
  const hosts = int('hosts', values.hosts, 1, 20);
  const entries = int('entries', values.entries, faults.length + 1, 10_000_000);
  const perRound = Math.floor(entries / (faults.length + 1));
  return {
    hosts,
    entries,
    faults,
    vaultOutageMs: int('vault-outage-ms', values['vault-outage-ms'], 0, 600_000),
    batchEntries: values['batch-entries']
      ? int('batch-entries', values['batch-entries'], 1, 100_000)
      : Math.max(25, Math.min(2000, Math.floor(perRound / 20))),
    keep: values.keep,
  };
}

async function main() {
  let opts: ReturnType<typeof options>;
  try {
    opts = options();
  } catch (err) {
    console.error(`${(err as Error).message}\n${USAGE}`);
    process.exit(2);
  }
  const work = await mkdtemp(join(tmpdir(), 'infralogs-faults-'));
  const started = Date.now();
  const progress = (line: string) =>
    console.error(`[${((Date.now() - started) / 1000).toFixed(0)}s] ${line}`);
  try {
    const results = await runFaultMatrix({ ...opts, stateDir: join(work, 'stack'), progress });
    const failed = results.filter((r) => r.problems.length > 0);
    const sum = (key: 'lost' | 'duplicated' | 'sourceLost') => results.reduce((n, r) => n + r[key], 0);
    const last = results.at(-1);
    console.log('fault\tresult\tseconds\tjournal\tprimary\treplica\tlost\ttwice\tsource_lost\tgaps');
    for (const r of results) {
      console.log(
        [r.fault, r.problems.length ? 'FAILED' : 'ok', (r.ms / 1000).toFixed(1), r.journal, r.primary, r.replica,
          r.lost, r.duplicated, r.sourceLost, r.gaps.length].join('\t'),
      ); // prettier-ignore
    }
    console.log(`RESULT faults_passed=${results.length - failed.length}/${results.length}`);
    console.log(`RESULT faults_entries=${last?.journal ?? 0}`);
    console.log(`RESULT faults_lost=${sum('lost')}`);
    console.log(`RESULT faults_duplicated=${sum('duplicated')}`);
    console.log(`RESULT faults_source_lost=${sum('sourceLost')}`);
    console.log(`RESULT faults_seconds=${((Date.now() - started) / 1000).toFixed(0)}`);
    process.exitCode = failed.length > 0 ? 1 : 0;
  } finally {
    if (opts.keep) progress(`state kept in ${work}`);
    else await rm(work, { recursive: true, force: true });
  }
}

// Interrupted: exit through 'exit', so devkit stops every process it started (its exit hook).
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130));
await main();
