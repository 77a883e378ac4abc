import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { get } from 'node:https';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import {
  freePort,
  generateLargeJournal,
  processCost,
  repoRoot,
  startProcess,
  waitFor,
  type Managed,
} from '@infralogs/devkit';
import { runHostsCli } from '@infralogs/vault';
import { buildAgent } from '../../agent/build';
import { loadStack } from '../src/stack-file';
import { startLocalStack, type LocalStack } from '../src/stack';
import { DATABASE_NAME } from '../src/stack/database';
import { prepareLoadData, prepareRsyslog, type BenchJournal } from './peers';

/**
 * npm run bench:e2e — the same journals (one per host, generated once and cached under
 * .work/bench/) stored three ways in the same MariaDB primary + GTID replica, one after the other:
 *   e2e        the real path in one collection: agents over TLS (certificates from OpenBao PKI)
 *              → gateway → collect → fetch-host → ingest → primary, until the replica has it all;
 *   rsyslog    Debian's rsyslog, imjournal → ommysql (see peers.ts for how it reads the files);
 *   LOAD DATA  `LOAD DATA LOCAL INFILE` of the same rows, one file per host (the practical limit).
 * Each is timed until its last row is on the replica. CPU seconds per million entries for each
 * kind of process come from /proc/<pid>/stat before and after (the agents' include their
 * journalctl children); the gateway runs inside this process, so its figure is this process's.
 * Progress goes to stderr; figures to stdout, the last four lines RESULT lines.
 */
const { values: args } = parseArgs({
  options: {
    hosts: { type: 'string', default: '10' },
    entries: { type: 'string', default: '100000' },
    /** collect's COLLECT_CONCURRENCY (default: stack.yml's). */
    concurrency: { type: 'string' },
    /** Skip a peer (e2e only, for profiling runs): rsyslog, load-data. */
    skip: { type: 'string', multiple: true, default: [] },
    /** Write V8 CPU profiles of the agents, fetch-host and ingest to this directory (local/bench/cpu-profile.mjs). */
    profile: { type: 'string' },
    /** innodb_buffer_pool_size of both servers, for all three paths (as bench:ingest's). */
    'buffer-pool': { type: 'string', default: '2G' },
  },
});
const HOSTS = Number(args.hosts);
const ENTRIES = Number(args.entries);
const TOTAL = HOSTS * ENTRIES;
if (!(HOSTS >= 1 && HOSTS <= 200 && ENTRIES >= 1))
  throw new Error('--hosts must be 1-200 and --entries at least 1');
const TIMEOUT_MS = 60 * 60_000;

const progress = (line: string) => process.stderr.write(`[bench:e2e] ${line}\n`);
const say = (line: string) => process.stdout.write(`${line}\n`);
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

/** A kind of process (agent, ingest, primary…) and the pids it has in a phase. */
type Kinds = Record<string, number[]>;
type Cost = Record<string, { cpuSeconds: number; peakRssMb: number; processes: number }>;

/** CPU seconds and peak RSS of each kind over a phase, read from /proc before and after. */
async function measured<T>(kinds: () => Kinds, work: () => Promise<T>) {
  const before = new Map<number, number>();
  for (const pids of Object.values(kinds()))
    for (const pid of pids) before.set(pid, processCost(pid).cpuSeconds);
  const t = performance.now();
  const result = await work();
  const seconds = (performance.now() - t) / 1000;
  const cost: Cost = {};
  for (const [kind, pids] of Object.entries(kinds())) {
    const now = pids.map((pid) => ({ pid, ...processCost(pid) }));
    cost[kind] = {
      cpuSeconds: now.reduce((s, p) => s + p.cpuSeconds - (before.get(p.pid) ?? 0), 0),
      peakRssMb: Math.max(...now.map((p) => p.peakRssMb)),
      processes: pids.length,
    };
  }
  return { result, seconds, cost };
}

function printCost(name: string, entries: number, cost: Cost) {
  say(`${name}: CPU seconds per million entries, peak RSS (largest process of the kind)`);
  for (const [kind, c] of Object.entries(cost)) {
    const many = c.processes > 1 ? ` (${c.processes} processes)` : '';
    say(
      `  ${kind.padEnd(22)} ${(c.cpuSeconds / (entries / 1e6)).toFixed(1).padStart(7)} s/M  ${c.peakRssMb.toFixed(0).padStart(5)} MB${many}`,
    );
  }
}

async function mariadbPid(dataDir: string): Promise<number> {
  return Number((await readFile(join(dataDir, 'mariadbd.pid'), 'utf8')).trim());
}

/** GET /healthz over HTTPS, verifying the agent's certificate against the PKI's CA as fetch-host does. */
function healthy(url: string, ca: string): Promise<boolean> {
  return new Promise((resolve, reject) => {
    get(url, { ca, agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    }).on('error', reject);
  });
}

/** `npm run hosts -- …` against the stack, with the environment it writes for operators. */
async function hostsCli(stack: LocalStack, argv: string[]) {
  const env: Record<string, string> = { PATH: process.env.PATH ?? '' };
  for (const line of (await readFile(stack.hostsEnvFile, 'utf8')).split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) env[line.slice(0, eq)] = line.slice(eq + 1);
  }
  const out: string[] = [];
  const code = await runHostsCli(argv, env, { out: (l) => out.push(l), err: (l) => out.push(l) });
  if (code !== 0) throw new Error(`hosts ${argv[0]} failed: ${out.join('\n')}`);
}

/**
 * One agent per host on its own loopback address, registered as an operator does it (`hosts add
 * --issue-cert`: token in OpenBao KV, certificate from OpenBao PKI), run as the Docker image runs
 * it: the bundle under plain node.
 */
async function startBenchAgents(
  stack: LocalStack,
  journals: BenchJournal[],
  dir: string,
  extraEnv: Record<string, string> = {},
) {
  const bundle = await buildAgent(join(repoRoot, '.work/bench/agent.mjs'));
  const agents: Managed[] = [];
  for (const [i, j] of journals.entries()) {
    const address = `127.0.${10 + Math.floor(i / 200)}.${(i % 200) + 10}`;
    const port = await freePort(address);
    const files = join(dir, 'agents', j.host);
    await mkdir(files, { recursive: true, mode: 0o700 });
    const [tokens, cert, key] = ['tokens', 'tls.crt', 'tls.key'].map((f) => join(files, f)) as [
      string,
      string,
      string,
    ];
    const url = `https://${address}:${port}`;
    await hostsCli(stack, [
      'add',
      j.host,
      url,
      '--tokens-file',
      tokens,
      '--issue-cert',
      '--cert-file',
      cert,
      '--key-file',
      key,
    ]);
    const agent = startProcess(process.execPath, [bundle], {
      env: {
        PATH: process.env.PATH,
        AGENT_HOST: address,
        AGENT_PORT: String(port),
        AGENT_TOKENS_FILE: tokens,
        AGENT_TLS_CERT_FILE: cert,
        AGENT_TLS_KEY_FILE: key,
        JOURNAL_DIR: j.dir,
        LOG_LEVEL: 'warn',
        ...extraEnv,
      },
    });
    agents.push(agent);
    await waitFor(`the agent of ${j.host}`, async () => {
      if (agent.child.exitCode !== null) throw new Error(`agent exited: ${agent.output().slice(-1000)}`);
      return healthy(`${url}/healthz`, stack.agentCa);
    });
  }
  progress(`${agents.length} agents up (HTTPS, certificates from OpenBao PKI)`);
  return agents;
}

async function countRows(stack: LocalStack, which: 'primary' | 'replica', sql: string, database: string) {
  const c = await stack.topology.connect(which, database);
  try {
    const [rows] = await c.query(sql);
    return Number((rows as { n: number }[])[0]!.n);
  } finally {
    await c.end();
  }
}

const work = await mkdtemp(join(tmpdir(), 'infralogs-bench-e2e-'));
let stack: LocalStack | undefined;
let agents: Managed[] = [];
const stops: (() => Promise<unknown>)[] = [];
let cleaning: Promise<void> | undefined;
/** Stops what the run started and removes its files (rsyslog's journal folder too), once. */
const cleanup = () =>
  (cleaning ??= (async () => {
    for (const stop of stops) await stop().catch((err: unknown) => progress(`cleanup: ${String(err)}`));
    await Promise.all(agents.map((a) => a.stop('SIGTERM', 5000)));
    await stack?.stop();
    await rm(work, { recursive: true, force: true });
  })());
// Interrupted (Ctrl-C, a timeout's kill): clean up as a finished run does, then exit. The signal
// often comes twice (to tsx and, relayed, to this process); the second must not cut cleanup short.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (cleaning) return;
    progress(`${signal}: stopping the processes and removing the run's files…`);
    void cleanup().finally(() => process.exit(130));
  });
}
try {
  say(`# e2e benchmark: ${HOSTS} hosts x ${ENTRIES} entries = ${TOTAL} entries`);
  const journals: BenchJournal[] = [];
  for (let i = 1; i <= HOSTS; i++) {
    const host = `bench-${i}`;
    const dir = await generateLargeJournal(ENTRIES, { hostname: host, log: progress });
    journals.push({ host, dir, file: join(dir, 'system.journal'), entries: ENTRIES });
  }
  progress(`journals ready (${HOSTS} x ${ENTRIES} entries, cached under .work/bench/)`);

  // The profiler is preloaded after the function's own stack.yml NODE_OPTIONS (its heap limit).
  const stackFunctions = (await loadStack(join(repoRoot, 'stack.yml'), {})).functions;
  const profiled = (fn?: string) =>
    args.profile
      ? {
          NODE_OPTIONS: [
            (fn && stackFunctions[fn]?.environment?.NODE_OPTIONS) ?? '',
            `--import=${join(repoRoot, 'local/bench/cpu-profile.mjs')}`,
          ]
            .join(' ')
            .trim(),
          CPU_PROFILE_DIR: resolve(args.profile),
        }
      : null;
  if (args.profile) await mkdir(resolve(args.profile), { recursive: true });
  stack = await startLocalStack({
    stateDir: join(work, 'stack'),
    fresh: true,
    demoAgents: false,
    useMachineJournal: false,
    collectOnStart: false,
    gatewayPort: 0,
    prometheusInterval: '30s',
    progress,
    mariadbArgs: [`--innodb-buffer-pool-size=${args['buffer-pool']}`],
    functionEnv: {
      ...(args.concurrency ? { collect: { COLLECT_CONCURRENCY: args.concurrency } } : {}),
      ...(args.profile ? { 'fetch-host': profiled('fetch-host')!, ingest: profiled('ingest')! } : {}),
    },
  });
  const s = stack;
  agents = await startBenchAgents(s, journals, work, profiled() ?? {});
  const primary = await mariadbPid(s.topology.primary.dataDir);
  const replica = await mariadbPid(s.topology.replica.dataDir);
  const fn = (name: string) =>
    s
      .functions()
      .filter((f) => f.name === name && f.pid !== undefined)
      .map((f) => f.pid!);
  const databases = { 'MariaDB primary': [primary], 'MariaDB replica': [replica] };
  await s.topology.waitForReplica(600_000);

  // --- e2e: one collection of every host, until the replica has every row -------------------
  progress(`collecting ${TOTAL} entries through ${s.gatewayUrl}/function/collect…`);
  const e2e = await measured(
    () => ({
      'agent + journalctl': agents.map((a) => a.child.pid!),
      gateway: [process.pid],
      collect: fn('collect'),
      'fetch-host': fn('fetch-host'),
      ingest: fn('ingest'),
      ...databases,
    }),
    async () => {
      const run = await s.collect();
      const primaryS = performance.now();
      await s.topology.waitForReplica(TIMEOUT_MS);
      return { run, replicaCatchUpMs: performance.now() - primaryS };
    },
  );
  const { run } = e2e.result;
  const inserted = run.hosts.reduce((n, h) => n + h.inserted, 0);
  const logsSql = 'SELECT COUNT(*) AS n FROM logs';
  const onReplica = await countRows(s, 'replica', logsSql, DATABASE_NAME);
  if (run.status !== 'succeeded' || inserted !== TOTAL || onReplica !== TOTAL) {
    throw new Error(
      `collection ${run.status}: ${inserted} inserted, ${onReplica} on the replica, expected ${TOTAL}: ${JSON.stringify(run.hosts.filter((h) => h.error))}`,
    );
  }
  const e2eRate = TOTAL / e2e.seconds;
  progress(`e2e: ${fmt(e2eRate)} entries/s`);

  // --- rsyslog imjournal → ommysql ----------------------------------------------------------
  let rsyslog: { rate: number; seconds: number; cost: Cost } | null = null;
  if (!args.skip.includes('rsyslog')) {
    const peer = await prepareRsyslog(s.topology, journals, work);
    stops.push(peer.stop);
    let pid = 0;
    const m = await measured(
      () => ({ rsyslogd: pid ? [pid] : [], ...databases }),
      async () => {
        pid = peer.start();
        let shown = 0;
        await peer.finished((n) => {
          if (n - shown >= TOTAL / 10)
            progress(`rsyslog: ${fmt((shown = n))} of ${fmt(TOTAL)} entries stored`);
        }, TIMEOUT_MS);
        await s.topology.waitForReplica(TIMEOUT_MS);
      },
    );
    // rsyslogd started inside the timed part: its CPU time before is 0.
    rsyslog = { rate: TOTAL / m.seconds, seconds: m.seconds, cost: m.cost };
    await peer.stop();
    progress(`rsyslog: ${fmt(rsyslog.rate)} entries/s`);
  }

  // --- LOAD DATA LOCAL INFILE ----------------------------------------------------------------
  let loadData: typeof rsyslog = null;
  if (!args.skip.includes('load-data')) {
    progress('writing the LOAD DATA files (not timed)…');
    const peer = await prepareLoadData(s.topology, journals, work);
    await s.topology.waitForReplica(TIMEOUT_MS);
    const m = await measured(
      () => ({ 'client (this process)': [process.pid], ...databases }),
      async () => {
        await peer.run();
        await s.topology.waitForReplica(TIMEOUT_MS);
      },
    );
    const n = await countRows(
      s,
      'replica',
      "SELECT COUNT(*) AS n FROM logs JOIN hosts h ON h.id = logs.host_id WHERE h.name <> 'warmup'",
      peer.database,
    );
    if (n !== TOTAL) throw new Error(`LOAD DATA: ${n} rows on the replica, expected ${TOTAL}`);
    loadData = { rate: TOTAL / m.seconds, seconds: m.seconds, cost: m.cost };
    progress(`LOAD DATA: ${fmt(loadData.rate)} rows/s`);
  }

  // --- figures -------------------------------------------------------------------------------
  say(`entries per second, until the last row is on the replica (${TOTAL} entries each):`);
  say(
    `  e2e        ${fmt(e2eRate).padStart(8)} entries/s  (${e2e.seconds.toFixed(1)} s; replica caught up ${(e2e.result.replicaCatchUpMs / 1000).toFixed(1)} s after collect answered; run ${run.runId}, ${run.hosts.reduce((n, h) => n + h.batches, 0)} batches)`,
  );
  if (rsyslog)
    say(
      `  rsyslog    ${fmt(rsyslog.rate).padStart(8)} entries/s  (${rsyslog.seconds.toFixed(1)} s, imjournal -> ommysql)`,
    );
  if (loadData)
    say(
      `  LOAD DATA  ${fmt(loadData.rate).padStart(8)} rows/s     (${loadData.seconds.toFixed(1)} s, one file per host)`,
    );
  printCost('e2e', TOTAL, e2e.cost);
  if (rsyslog) printCost('rsyslog', TOTAL, rsyslog.cost);
  if (loadData) printCost('LOAD DATA', TOTAL, loadData.cost);
  // On a shared machine wall time depends on everyone's load; CPU per entry does much less.
  const pathCpu = (cost: Cost) => Object.values(cost).reduce((n, c) => n + c.cpuSeconds, 0) / (TOTAL / 1e6);
  say(
    `whole-path CPU seconds per million entries: e2e ${pathCpu(e2e.cost).toFixed(0)}` +
      (rsyslog ? `, rsyslog ${pathCpu(rsyslog.cost).toFixed(0)}` : '') +
      (loadData ? `, LOAD DATA ${pathCpu(loadData.cost).toFixed(0)}` : '') +
      (rsyslog ? ` (rsyslog / e2e: ${(pathCpu(rsyslog.cost) / pathCpu(e2e.cost)).toFixed(2)}x)` : ''),
  );
  // The gateway runs in this process, beside the stack's own start-up and checks: its RSS is not
  // the gateway's alone (and in the cluster the gateway is OpenFaaS's), so it is shown, not counted.
  const ours = ['agent + journalctl', 'collect', 'fetch-host', 'ingest'];
  const maxRss = Math.max(...ours.map((k) => e2e.cost[k]?.peakRssMb ?? 0));
  say(
    `largest Infralogs process (agent, collect, fetch-host, ingest): ${maxRss.toFixed(0)} MB peak RSS (target < 200 MB); ` +
      `this process (gateway + bench) ${e2e.cost.gateway!.peakRssMb.toFixed(0)} MB`,
  );
  say(`RESULT e2e_entries_per_s=${Math.round(e2eRate)}`);
  say(`RESULT e2e_vs_rsyslog=${rsyslog ? (e2eRate / rsyslog.rate).toFixed(2) : 'skipped'}`);
  say(`RESULT e2e_vs_load_data=${loadData ? (e2eRate / loadData.rate).toFixed(2) : 'skipped'}`);
  say(`RESULT e2e_max_rss_mb=${maxRss.toFixed(0)}`);
} finally {
  await cleanup();
}
