import { appendFileSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import type { Pool } from 'mysql2/promise';
import { upsertHost, type RequestLimits } from '@infralogs/core';
import { freePort, repoRoot, type RunningPrometheus, type Topology } from '@infralogs/devkit';
import { addHost, readInventory } from '@infralogs/vault';
import type { FunctionInfo } from '../gateway';
import { loadStack, type Stack } from '../stack-file';
import { startAgents, type StackAgent } from './agents';
import { collectNow, type CollectAnswer } from './collect-run';
import { DATABASE_NAME, operatorPool, startDatabase } from './database';
import { functionSettings, startFunctions } from './functions';
import { prepareJournals, type DemoHost } from './journals';
import { readCronJob, RETENTION_CRONJOB, storeJob } from './scheduled-jobs';
import { silentProgress, type Progress } from './progress';
import { startMysqldExporter } from './mysqld-exporter';
import { startStackPrometheus } from './prometheus';
import { CALLER_TOKEN_SECRETS, dashboardSecrets, newToken } from './secrets';
import { bootstrapVault, startVaultServer, type StackVault } from './vault';

export { stackBanner } from './banner';

export interface LocalStackOptions {
  /**
   * Where state goes (MariaDB and OpenBao data, journals, tokens, certificates, secrets, logs);
   * kept across restarts. Default `.work/stack`.
   */
  stateDir?: string;
  /** Start over: empty the state directory first (`npm start -- --fresh`). */
  fresh?: boolean;
  /** A hosts inventory (YAML, as for `hosts sync`) of real agents to collect too. */
  inventory?: string;
  /** Serve and collect the demo journals (default true; false with an inventory: real agents only). */
  demoAgents?: boolean;
  /** The stack file; default the repository's stack.yml. */
  stackFile?: string;
  /** The gateway's port; 0 = any free port. Default 8080, or a free port when 8080 is taken. */
  gatewayPort?: number;
  /** Serve the machine's own journal on the first agent when it is readable (default true). */
  useMachineJournal?: boolean;
  /** The generated hosts and their journals (default DEMO_HOSTS; the fault matrix uses more). */
  demoHosts?: DemoHost[];
  /**
   * Add the edge-case entries (edgeCaseJournalEntries: binary and invalid UTF-8 messages, 1 MiB
   * messages…) to edge-1's journal (default false: `npm start` serves the demo journals only).
   */
  edgeCases?: boolean;
  /** Run one collection before resolving (default true). */
  collectOnStart?: boolean;
  /** Environment overrides per function, over stack.yml's (tests: smaller batches, shorter drains). */
  functionEnv?: Record<string, Record<string, string>>;
  /** The gateway server's request limits (core's http-guard; tests: short timeouts). */
  gatewayRequestLimits?: RequestLimits;
  progress?: Progress;
  /** Prometheus's scrape and rule evaluation interval (default 5s). */
  prometheusInterval?: string;
  /** Aborting during start-up stops what has started and rejects. */
  signal?: AbortSignal;
  /** Extra mariadbd options for both servers (the benchmark sizes the buffer pool). */
  mariadbArgs?: string[];
}

export interface StackHost {
  name: string;
  agentUrl: string;
  /** `host:port` of the agent's metrics listener (null for an inventory host: not scraped here). */
  metricsAddress: string | null;
  /** The journal directory the agent serves; null = the machine's own journal. */
  journalDir: string | null;
  /** Where the agent's certificate is (null for an inventory host: its own VM has it). */
  certFile: string | null;
}

export interface LocalStack {
  gatewayUrl: string;
  dashboardUrl: string;
  /** The real Prometheus scraping every agent and function, with deploy/'s alert rules. */
  prometheus: RunningPrometheus;
  /** The dashboard's one user, made for this run (the function holds only its hash). */
  dashboardLogin: { user: string; password: string };
  hosts: StackHost[];
  topology: Topology;
  database: string;
  vault: {
    addr: string;
    rootToken: string;
    rootTokenFile: string;
    credentialsPaths: { writer: string; reader: string; migrator: string };
  };
  /** The CA (PEM) of OpenBao's PKI engine, which issued every demo agent's certificate. */
  agentCa: string;
  stateDir: string;
  /** Environment for `npm run hosts` against this stack (`set -a; . <file>`). */
  hostsEnvFile: string;
  /** True when the state directory held a previous run's data. */
  resumed: boolean;
  /** The file holding collect's caller token (for curl). */
  collectTokenFile: string;
  /** The gateway's, the functions' and the agents' JSON logs. */
  logDir: string;
  /** The collection's schedule from stack.yml (UTC), if any. */
  schedule: string | null;
  /** The answer of the collection at start-up, when there was one. */
  firstRun: CollectAnswer | null;
  /** One collection through the gateway with the collect token, as an operator would run it. */
  collect(hosts?: string[]): Promise<CollectAnswer>;
  /** The scheduled jobs besides functions (the cluster's CronJobs), with their schedules (UTC). */
  jobs: { job: string; schedule: string }[];
  /** Runs a scheduled job now, as its next tick would. */
  runJob(name: string): Promise<boolean>;
  /** The function processes (port, pid, running), as the gateway runs them. */
  functions(): FunctionInfo[];
  /** The operator's pool on the primary (the local root user), for checks. */
  pool: Pool;
  /** Stops one host's agent, as when its VM goes down (the host stays registered). */
  stopAgent(host: string): Promise<void>;
  /** Stops one host's agent with `signal` and starts it again after `downMs` (fault tests). */
  restartAgent(host: string, signal: NodeJS.Signals, downMs?: number): Promise<void>;
  /** Stops OpenBao (SIGTERM), as an outage; its storage stays. */
  stopVault(): Promise<void>;
  /** Starts the stopped OpenBao again on the same address and unseals it. */
  startVault(): Promise<void>;
  stop(): Promise<void>;
}

/** Undoes what start-up did, last first; each step runs even if one before it failed. */
class Teardown {
  private readonly steps: { what: string; undo: () => Promise<unknown> }[] = [];
  add(what: string, undo: () => Promise<unknown>) {
    this.steps.push({ what, undo });
  }
  async run(progress: Progress) {
    for (const step of this.steps.splice(0).reverse()) {
      await step
        .undo()
        .catch((err: unknown) => progress(`could not stop ${step.what}: ${(err as Error)?.message ?? err}`));
    }
  }
}

/** Starts several things at once; if any fails, stops those that started and rethrows. */
async function startTogether<A, B>(
  a: Promise<A>,
  b: Promise<B>,
  stopA: (a: A) => Promise<unknown>,
  stopB: (b: B) => Promise<unknown>,
) {
  const [ra, rb] = await Promise.allSettled([a, b]);
  if (ra.status === 'fulfilled' && rb.status === 'fulfilled') return [ra.value, rb.value] as const;
  if (ra.status === 'fulfilled') await stopA(ra.value);
  if (rb.status === 'fulfilled') await stopB(rb.value);
  throw ra.status === 'rejected' ? ra.reason : (rb as PromiseRejectedResult).reason;
}

const DEFAULT_GATEWAY_PORT = 8080;
const STATE_MARKER = '.infralogs-local-stack';
const PORTS_FILE = 'ports.json';

/**
 * Claims the state directory: a folder the stack did not make itself (no marker file) is refused
 * unless empty, so a mistyped STACK_DIR never touches someone's files. With `fresh` it is emptied;
 * otherwise what is there is kept. Returns whether a previous run's state is there.
 */
export async function claimStateDir(dir: string, fresh: boolean): Promise<boolean> {
  const entries = await readdir(dir).catch(() => [] as string[]);
  if (entries.length > 0 && !entries.includes(STATE_MARKER)) {
    throw new Error(`${dir} is not empty and was not made by the local stack; choose another STACK_DIR`);
  }
  const resumed = !fresh && entries.includes(STATE_MARKER) && entries.includes(PORTS_FILE);
  if (fresh) await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await writeFile(
    join(dir, STATE_MARKER),
    'state of the Infralogs local stack, kept across restarts; `npm start -- --fresh` starts over\n',
  );
  return resumed;
}

interface Ports {
  primary?: number;
  replica?: number;
  bao?: number;
}

/** The last run's ports that are still free (so Vault's connection URL stays the same). */
async function loadPorts(dir: string): Promise<Ports> {
  const saved = JSON.parse(await readFile(join(dir, PORTS_FILE), 'utf8').catch(() => '{}')) as Ports;
  const out: Ports = {};
  for (const key of ['primary', 'replica', 'bao'] as const) {
    const port = saved[key];
    if (port !== undefined && (await portFree(port))) out[key] = port;
  }
  return out;
}

const portFree = (port: number) =>
  new Promise<boolean>((resolve) => {
    const probe = createServer()
      .once('error', () => resolve(false))
      .listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
  });

async function gatewayPort(requested: number | undefined, progress: Progress): Promise<number> {
  if (requested !== undefined) return requested === 0 ? freePort('127.0.0.1') : requested;
  if (await portFree(DEFAULT_GATEWAY_PORT)) return DEFAULT_GATEWAY_PORT;
  const port = await freePort('127.0.0.1');
  progress(`port ${DEFAULT_GATEWAY_PORT} is taken; the gateway uses ${port}`);
  return port;
}

/** What start-up has made so far, for the steps after it and for the teardown. */
interface Started {
  stateDir: string;
  logDir: string;
  progress: Progress;
  teardown: Teardown;
  step: () => void;
}

/**
 * The whole stack on this machine, as `npm start` and the end-to-end tests use it: MariaDB primary +
 * GTID replica (schema migrated), OpenBao as a real server bootstrapped like production Vault
 * (PKI included), three agents on 127.0.0.2-4 serving real journal files over TLS with
 * certificates from OpenBao PKI (and the hosts of an inventory, if given), and the gateway running
 * every function of stack.yml with local addresses and secrets; the gateway fires collect on its
 * stack.yml schedule. State stays in the state directory across restarts: the next collection
 * resumes from each host's checkpoint. Stopping stops every process and keeps the data.
 */
export async function startLocalStack(options: LocalStackOptions = {}): Promise<LocalStack> {
  const progress = options.progress ?? silentProgress;
  const stateDir = resolve(options.stateDir ?? join(repoRoot, '.work/stack'));
  const teardown = new Teardown();
  const started: Started = {
    stateDir,
    logDir: join(stateDir, 'logs'),
    progress,
    teardown,
    step: () => {
      if (options.signal?.aborted) throw new Error('start-up aborted');
    },
  };
  try {
    const resumed = await claimStateDir(stateDir, options.fresh ?? false);
    progress(resumed ? `resuming the stack kept in ${stateDir}` : `new stack state in ${stateDir}`);
    const stack = await loadStack(options.stackFile ?? join(repoRoot, 'stack.yml'), {});
    const { topology, vault, bao } = await startServers(started, options.mariadbArgs);
    const pool = operatorPool(topology);
    teardown.add('the operator pool', () => pool.end());
    const agents = options.demoAgents === false ? [] : await startDemoAgents(started, vault, options);
    const hosts = await registerHosts(started, pool, vault, agents, options.inventory);
    const gateway = await startGatewayAndFunctions(started, stack, topology, vault, options);
    const prometheus = await startMonitoring(started, topology, gateway.functions(), agents, options);
    const collect = (only?: string[]) =>
      collectNow({
        gatewayUrl: gateway.url,
        token: gateway.collectToken,
        ...(only ? { hosts: only } : {}),
        pool,
        progress,
      });
    const firstRun = options.collectOnStart === false ? null : await collect();
    if (firstRun) progress(`first collection: run ${firstRun.runId} ${firstRun.status}`);
    return {
      gatewayUrl: gateway.url,
      dashboardUrl: `${gateway.url}/function/dashboard`,
      prometheus,
      dashboardLogin: gateway.dashboardLogin,
      hosts,
      topology,
      database: DATABASE_NAME,
      vault: {
        addr: vault.addr,
        rootToken: vault.rootToken,
        rootTokenFile: vault.rootTokenFile,
        credentialsPaths: vault.credentialsPaths,
      },
      agentCa: vault.pki.ca,
      stateDir,
      hostsEnvFile: await writeHostsEnv(stateDir, topology, vault),
      resumed,
      collectTokenFile: gateway.collectTokenFile,
      logDir: started.logDir,
      schedule: stack.functions.collect?.annotations?.schedule ?? null,
      firstRun,
      collect,
      functions: () => gateway.functions(),
      jobs: gateway.jobs,
      runJob: (name) => gateway.runJob(name),
      pool,
      stopAgent: async (host) => {
        const agent = agents.find((a) => a.host === host);
        if (!agent) throw new Error(`no agent for host ${host}`);
        await agent.stop();
      },
      restartAgent: async (host, signal, downMs) => {
        const agent = agents.find((a) => a.host === host);
        if (!agent) throw new Error(`no agent for host ${host}`);
        await agent.restart(signal, downMs);
      },
      stopVault: () => bao.stop(),
      startVault: () => bao.start(),
      stop: () => teardown.run(progress),
    };
  } catch (err) {
    await teardown.run(progress);
    throw err;
  }
}

/** MariaDB and OpenBao (together, on the last run's ports when free), then the bootstrap. */
async function startServers({ stateDir, progress, teardown, step }: Started, mariadbArgs?: string[]) {
  const ports = await loadPorts(stateDir);
  const [topology, first] = await startTogether(
    startDatabase(stateDir, ports, progress, mariadbArgs),
    startVaultServer(stateDir, ports.bao, progress),
    (t) => t.stop(),
    (b) => b.stop(),
  );
  // Fault tests stop and start OpenBao again: the teardown stops whichever instance runs.
  const baoPort = Number(new URL(first.addr).port);
  let running: typeof first | null = first;
  const bao = {
    ...first,
    stop: async () => {
      const current = running;
      running = null;
      await current?.stop();
    },
    start: async () => {
      running ??= await startVaultServer(stateDir, baoPort, progress);
    },
  };
  teardown.add('MariaDB', () => topology.stop());
  teardown.add('OpenBao', () => bao.stop());
  await writeFile(
    join(stateDir, PORTS_FILE),
    JSON.stringify({ primary: topology.primary.port, replica: topology.replica.port, bao: baoPort }) + '\n',
  );
  progress(`MariaDB and OpenBao (${bao.addr}) are up`);
  step();
  const vault = await bootstrapVault(bao, topology, stateDir, progress);
  step();
  return { topology, vault, bao };
}

async function startDemoAgents(
  { stateDir, logDir, progress, teardown, step }: Started,
  vault: StackVault,
  options: LocalStackOptions,
): Promise<StackAgent[]> {
  progress('preparing journals…');
  const journals = await prepareJournals(stateDir, {
    useMachineJournal: options.useMachineJournal ?? true,
    edgeCases: options.edgeCases ?? false,
    ...(options.demoHosts ? { hosts: options.demoHosts } : {}),
  });
  step();
  const agents = await startAgents(journals, {
    stateDir,
    logDir,
    ca: vault.pki.ca,
    ensureToken: (host, tokensFile) => vault.ensureAgentToken(host, tokensFile),
    issueCertificate: (host, url, files) => vault.issueAgentCertificate(host, url, files),
    progress,
  });
  teardown.add('the agents', () => Promise.all(agents.map((a) => a.stop())));
  step();
  return agents;
}

/**
 * The demo agents (their URLs change with their ports) and the inventory's hosts, as `hosts add`
 * registers them: a new inventory host's token is written to `<stateDir>/inventory/<host>/tokens`
 * for its VM's agent.
 */
async function registerHosts(
  { stateDir, progress, step }: Started,
  pool: Pool,
  vault: StackVault,
  agents: StackAgent[],
  inventory: string | undefined,
): Promise<StackHost[]> {
  for (const agent of agents)
    await upsertHost(pool, { name: agent.host, agentUrl: agent.url, enabled: true });
  const hosts: StackHost[] = agents.map((a) => ({
    name: a.host,
    agentUrl: a.url,
    metricsAddress: a.metricsAddress,
    journalDir: a.journalDir,
    certFile: a.tls.certFile,
  }));
  if (agents.length > 0)
    progress(`registered ${agents.length} demo hosts; their agent tokens are in OpenBao KV`);
  if (inventory) {
    const ctx = {
      pool,
      vault: vault.client,
      kvMount: vault.kvMount,
      pki: { mount: vault.pki.mount, role: vault.pki.role },
      out: (line: string) => progress(`inventory: ${line}`),
      progress,
    };
    for (const h of await readInventory(inventory)) {
      const tokensFile = join(stateDir, 'inventory', h.name, 'tokens');
      await addHost(ctx, {
        name: h.name,
        url: h.url,
        enabled: h.enabled,
        insecure: h.insecure,
        ca: h.ca,
        tokensFile,
      });
      hosts.push({ name: h.name, agentUrl: h.url, metricsAddress: null, journalDir: null, certFile: null });
    }
  }
  step();
  return hosts;
}

/**
 * The gateway with every function of stack.yml, and the cluster's CronJobs (retention) on their
 * schedules, as deploy/k8s/jobs has them.
 */
async function startGatewayAndFunctions(
  { stateDir, logDir, progress, teardown, step }: Started,
  stack: Stack,
  topology: Topology,
  vault: StackVault,
  options: Pick<LocalStackOptions, 'gatewayPort' | 'functionEnv' | 'gatewayRequestLimits'>,
) {
  // fetch-host trusts the PKI's CA for every agent (the secret agent-ca, as in the cluster); the
  // dashboard gets one user made for this run (only its hash) and a session key.
  const dashboard = await dashboardSecrets();
  const secrets: Record<string, string> = {
    ...Object.fromEntries(CALLER_TOKEN_SECRETS.map((name) => [name, newToken()])),
    'agent-ca': vault.pki.ca,
    ...dashboard.secrets,
  };
  const settings = functionSettings(stack, {
    topology,
    vaultAddr: vault.addr,
    secrets,
    secretsRoot: join(stateDir, 'secrets'),
  });
  for (const [name, env] of Object.entries(options.functionEnv ?? {})) {
    if (!settings[name]) throw new Error(`functionEnv: ${name} is not a function of the stack`);
    Object.assign(settings[name].env, env);
  }
  const retention = readCronJob(RETENTION_CRONJOB);
  const jobs = [
    storeJob(retention, {
      db: { host: topology.primary.host, port: topology.primary.port, database: DATABASE_NAME },
      lease: () => vault.leaseMigrator(),
      dir: join(stateDir, 'secrets'),
      output: (line) => appendFileSync(join(logDir, 'jobs.log'), `[${retention.name}] ${line}\n`),
    }),
  ];
  progress(
    `${retention.name}: \`${retention.args.join(' ')}\` on '${retention.schedule}' UTC, RETENTION_DAYS=${retention.env.RETENTION_DAYS ?? '30'} (as deploy/k8s/jobs/store-retention.yaml)`,
  );
  const port = await gatewayPort(options.gatewayPort, progress);
  progress(`starting the gateway on 127.0.0.1:${port} with ${Object.keys(settings).join(', ')}…`);
  const gateway = await startFunctions({
    stack,
    settings,
    writeVaultSecrets: (role, dir) => vault.writeFunctionSecrets(role, dir),
    port,
    logFile: join(logDir, 'functions.log'),
    progress,
    jobs,
    ...(options.gatewayRequestLimits ? { requestLimits: options.gatewayRequestLimits } : {}),
    // As the images run them: one bundle per function under plain node, not tsx.
    bundleDir: join(repoRoot, '.work/functions'),
  });
  teardown.add('the gateway and functions', () => gateway.stop());
  step();
  return {
    url: gateway.url,
    dashboardLogin: dashboard.login,
    functions: (): FunctionInfo[] => gateway.functions(),
    jobs: jobs.map(({ job, schedule }) => ({ job, schedule })),
    runJob: (name: string) => gateway.runJob(name),
    collectToken: secrets['collect-token']!,
    collectTokenFile: join(settings.collect!.secretsDir, 'collect-token'),
  };
}

/** mysqld_exporter on the replica, then a real Prometheus scraping the functions and demo agents. */
async function startMonitoring(
  { stateDir, progress, teardown, step }: Started,
  topology: Topology,
  functions: FunctionInfo[],
  agents: StackAgent[],
  options: LocalStackOptions,
): Promise<RunningPrometheus> {
  const exporter = await startMysqldExporter(stateDir, topology);
  teardown.add('mysqld_exporter', () => exporter.stop());
  const prometheus = await startStackPrometheus({
    stateDir,
    functions,
    agents,
    exporter: exporter.address,
    progress,
    ...(options.prometheusInterval ? { scrapeInterval: options.prometheusInterval } : {}),
  });
  teardown.add('Prometheus', () => prometheus.stop());
  step();
  return prometheus;
}

/** `npm run hosts` against this stack: `set -a; . .work/stack/hosts.env; set +a`. No secret inside. */
async function writeHostsEnv(stateDir: string, topology: Topology, vault: StackVault): Promise<string> {
  const file = join(stateDir, 'hosts.env');
  await writeFile(
    file,
    [
      `VAULT_ADDR=${vault.addr}`,
      `VAULT_TOKEN_FILE=${vault.rootTokenFile}`,
      `DB_HOST=${topology.primary.host}`,
      `DB_PORT=${topology.primary.port}`,
      `DB_NAME=${DATABASE_NAME}`,
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
  return file;
}
