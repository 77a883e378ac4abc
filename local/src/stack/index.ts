import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { upsertHost } from '@infralogs/core';
import { freePort, repoRoot, type Topology } from '@infralogs/devkit';
import { loadStack } from '../stack-file';
import { startAgents } from './agents';
import { collectNow, type CollectAnswer } from './collect-run';
import { DATABASE_NAME, operatorPool, startDatabase } from './database';
import { functionSettings, startFunctions } from './functions';
import { prepareJournals } from './journals';
import { silentProgress, type Progress } from './progress';
import { CALLER_TOKEN_SECRETS, dashboardSecrets, newToken } from './secrets';
import { bootstrapVault, startVaultServer } from './vault';

export { stackBanner } from './banner';

export interface LocalStackOptions {
  /** Where state goes (data, journals, secrets, logs); emptied on start, removed on stop. Default `.work/stack`. */
  stateDir?: string;
  /** The stack file; default the repository's stack.yml. */
  stackFile?: string;
  /** The gateway's port; 0 = any free port. Default 8080, or a free port when 8080 is taken. */
  gatewayPort?: number;
  /** Serve the machine's own journal on the first agent when it is readable (default true). */
  useMachineJournal?: boolean;
  /**
   * Add the edge-case entries (edgeCaseJournalEntries: binary and invalid UTF-8 messages, 1 MiB
   * messages…) to edge-1's journal (default false: `npm start` serves the demo journals only).
   */
  edgeCases?: boolean;
  /** Run one collection before resolving (default true). */
  collectOnStart?: boolean;
  progress?: Progress;
  /** Aborting during start-up stops what has started and rejects. */
  signal?: AbortSignal;
}

export interface StackHost {
  name: string;
  agentUrl: string;
  /** The journal directory the agent serves; null = the machine's own journal. */
  journalDir: string | null;
}

export interface LocalStack {
  gatewayUrl: string;
  dashboardUrl: string;
  /** The dashboard's one user, made for this run (the function holds only its hash). */
  dashboardLogin: { user: string; password: string };
  hosts: StackHost[];
  topology: Topology;
  database: string;
  vault: { addr: string; rootToken: string };
  stateDir: string;
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

/**
 * Empties the state directory for a fresh start. It is removed wholesale on stop, so a folder the
 * stack did not make itself (no marker file) is refused unless empty: a mistyped STACK_DIR must not
 * delete someone's files.
 */
async function claimStateDir(dir: string) {
  const entries = await readdir(dir).catch(() => [] as string[]);
  if (entries.length > 0 && !entries.includes(STATE_MARKER)) {
    throw new Error(`${dir} is not empty and was not made by the local stack; choose another STACK_DIR`);
  }
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await writeFile(join(dir, STATE_MARKER), 'state of the Infralogs local stack; removed when it stops\n');
}

async function gatewayPort(requested: number | undefined, progress: Progress): Promise<number> {
  if (requested !== undefined) return requested === 0 ? freePort('127.0.0.1') : requested;
  const free = await new Promise<boolean>((resolve) => {
    const probe = createServer()
      .once('error', () => resolve(false))
      .listen(DEFAULT_GATEWAY_PORT, '127.0.0.1', () => probe.close(() => resolve(true)));
  });
  if (free) return DEFAULT_GATEWAY_PORT;
  const port = await freePort('127.0.0.1');
  progress(`port ${DEFAULT_GATEWAY_PORT} is taken; the gateway uses ${port}`);
  return port;
}

/**
 * The whole stack on this machine, as `npm start` and the end-to-end test use it: MariaDB primary +
 * GTID replica (schema migrated), an OpenBao dev server bootstrapped like production Vault, three
 * agents on 127.0.0.2-4 serving real journal files, and the gateway running every function of
 * stack.yml with local addresses and secrets; the gateway fires collect on its stack.yml schedule.
 * State is fresh on every start (nothing to migrate or reconcile) and removed on stop.
 */
export async function startLocalStack(options: LocalStackOptions = {}): Promise<LocalStack> {
  const progress = options.progress ?? silentProgress;
  const stateDir = options.stateDir ?? join(repoRoot, '.work/stack');
  const teardown = new Teardown();
  const step = () => {
    if (options.signal?.aborted) throw new Error('start-up aborted');
  };
  try {
    await claimStateDir(stateDir);
    const logDir = join(stateDir, 'logs');
    teardown.add('the state directory', () => rm(stateDir, { recursive: true, force: true }));
    const stack = await loadStack(options.stackFile ?? join(repoRoot, 'stack.yml'), {});

    const [topology, bao] = await startTogether(
      startDatabase(stateDir, progress),
      startVaultServer(progress),
      (t) => t.stop(),
      (b) => b.stop(),
    );
    teardown.add('MariaDB', () => topology.stop());
    teardown.add('OpenBao', () => bao.stop());
    progress(`MariaDB and OpenBao (${bao.addr}) are up`);
    step();
    const vault = await bootstrapVault(bao, topology, progress);
    step();

    progress('preparing journals…');
    const journals = await prepareJournals(stateDir, {
      useMachineJournal: options.useMachineJournal ?? true,
      edgeCases: options.edgeCases ?? false,
    });
    step();
    const agents = await startAgents(journals, {
      stateDir,
      logDir,
      issueToken: (host, tokensFile) => vault.issueAgentToken(host, tokensFile),
      progress,
    });
    teardown.add('the agents', () => Promise.all(agents.map((a) => a.stop())));
    const pool = operatorPool(topology);
    teardown.add('the operator pool', () => pool.end());
    for (const agent of agents)
      await upsertHost(pool, { name: agent.host, agentUrl: agent.url, enabled: true });
    progress(`registered ${agents.length} hosts; their agent tokens are in OpenBao KV`);
    step();

    const dashboard = await dashboardSecrets();
    const secrets: Record<string, string> = {
      ...Object.fromEntries(CALLER_TOKEN_SECRETS.map((name) => [name, newToken()])),
      ...dashboard.secrets,
    };
    const settings = functionSettings(stack, {
      topology,
      vaultAddr: vault.addr,
      secrets,
      secretsRoot: join(stateDir, 'secrets'),
    });
    const port = await gatewayPort(options.gatewayPort, progress);
    progress(`starting the gateway on 127.0.0.1:${port} with ${Object.keys(settings).join(', ')}…`);
    const gateway = await startFunctions({
      stack,
      settings,
      writeVaultSecrets: (role, dir) => vault.writeFunctionSecrets(role, dir),
      port,
      logFile: join(logDir, 'functions.log'),
      progress,
    });
    teardown.add('the gateway and functions', () => gateway.stop());
    step();

    const collect = (hosts?: string[]) =>
      collectNow({
        gatewayUrl: gateway.url,
        token: secrets['collect-token']!,
        ...(hosts ? { hosts } : {}),
        pool,
        progress,
      });
    const firstRun = options.collectOnStart === false ? null : await collect();
    if (firstRun) progress(`first collection: run ${firstRun.runId} ${firstRun.status}`);

    const schedule = stack.functions.collect?.annotations?.schedule ?? null;
    return {
      gatewayUrl: gateway.url,
      dashboardUrl: `${gateway.url}/function/dashboard`,
      dashboardLogin: dashboard.login,
      hosts: agents.map((a) => ({ name: a.host, agentUrl: a.url, journalDir: a.journalDir })),
      topology,
      database: DATABASE_NAME,
      vault: { addr: vault.addr, rootToken: vault.rootToken },
      stateDir,
      collectTokenFile: join(settings.collect!.secretsDir, 'collect-token'),
      logDir,
      schedule,
      firstRun,
      collect,
      stop: () => teardown.run(progress),
    };
  } catch (err) {
    await teardown.run(progress);
    throw err;
  }
}
