import { createWriteStream, mkdirSync } from 'node:fs';
import { get } from 'node:https';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { freePort, repoRoot, startProcess, waitFor } from '@infralogs/devkit';
import type { JournalSource } from './journals';
import type { Progress } from './progress';

const AGENT_MAIN = join(repoRoot, 'agent/src/main.ts');
const TSX_LOADER = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

/**
 * The loopback addresses of the stack's agents, one per host (all of 127/8 is loopback on Linux):
 * 127.0.0.2-4 for the three demo hosts, up to 127.0.0.21 for bigger test fleets (the fault matrix).
 */
export const AGENT_ADDRESSES = Array.from({ length: 20 }, (_, i) => `127.0.0.${i + 2}`);

export interface StackAgent {
  host: string;
  url: string;
  /** The agent's metrics listener (`GET /metrics`, no token) on its own loopback address. */
  metricsAddress: string;
  journalDir: string | null;
  tokensFile: string;
  /** The agent's certificate and key (issued by OpenBao PKI). */
  tls: { certFile: string; keyFile: string };
  pid: number | undefined;
  stop(): Promise<void>;
  /**
   * Stops the agent with `signal` (SIGKILL: as if its VM's process died mid-stream) and starts it
   * again on the same address, port, token and certificate once `downMs` have passed.
   */
  restart(signal: NodeJS.Signals, downMs?: number): Promise<void>;
}

/**
 * Starts one agent process per journal, each on its own loopback address, as each VM runs its own
 * agent, serving HTTPS with a certificate from OpenBao PKI. `ensureToken` must put the host's token
 * into the tokens file (and KV) before the agent starts: the agent reads the file at start-up.
 * Tokens and certificates live in `<stateDir>/agents/<host>/`. Each agent's JSON log goes to
 * `<logDir>/agent-<host>.log`.
 */
export async function startAgents(
  journals: JournalSource[],
  options: {
    stateDir: string;
    logDir: string;
    /** The CA the agents' certificates chain to (to check them as fetch-host will). */
    ca: string;
    ensureToken: (host: string, tokensFile: string) => Promise<void>;
    issueCertificate: (
      host: string,
      agentUrl: string,
      files: { certFile: string; keyFile: string },
    ) => Promise<void>;
    progress: Progress;
  },
): Promise<StackAgent[]> {
  if (journals.length > AGENT_ADDRESSES.length) throw new Error(`at most ${AGENT_ADDRESSES.length} agents`);
  mkdirSync(options.logDir, { recursive: true });
  const started: StackAgent[] = [];
  try {
    for (const [i, journal] of journals.entries()) {
      const address = AGENT_ADDRESSES[i]!;
      const tokensFile = join(options.stateDir, 'agents', journal.host, 'tokens');
      mkdirSync(dirname(tokensFile), { recursive: true, mode: 0o700 });
      await options.ensureToken(journal.host, tokensFile);
      const port = await freePort(address);
      const metricsPort = await freePort(address);
      const url = `https://${address}:${port}`;
      const tls = {
        certFile: join(dirname(tokensFile), 'tls.crt'),
        keyFile: join(dirname(tokensFile), 'tls.key'),
      };
      await options.issueCertificate(journal.host, url, tls);
      const env = {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        AGENT_HOST: address,
        AGENT_PORT: String(port),
        AGENT_TOKENS_FILE: tokensFile,
        AGENT_TLS_CERT_FILE: tls.certFile,
        AGENT_TLS_KEY_FILE: tls.keyFile,
        AGENT_METRICS_HOST: address,
        AGENT_METRICS_PORT: String(metricsPort),
        ...(journal.dir ? { JOURNAL_DIR: journal.dir } : {}),
      };
      const log = createWriteStream(join(options.logDir, `agent-${journal.host}.log`));
      const launch = async () => {
        const proc = startProcess(process.execPath, ['--import', TSX_LOADER, AGENT_MAIN], {
          cwd: repoRoot,
          env,
        });
        proc.child.stdout?.pipe(log, { end: false });
        proc.child.stderr?.pipe(log, { end: false });
        agent.pid = proc.child.pid;
        current = proc;
        await waitFor(`the agent of ${journal.host} at ${url}`, async () => {
          if (proc.child.exitCode !== null) throw new Error(`agent exited: ${proc.output().slice(-1000)}`);
          return healthy(url, options.ca);
        });
      };
      let current: ReturnType<typeof startProcess> | undefined;
      const agent: StackAgent = {
        host: journal.host,
        url,
        metricsAddress: `${address}:${metricsPort}`,
        journalDir: journal.dir,
        tokensFile,
        tls,
        pid: undefined,
        stop: async () => {
          await current?.stop('SIGTERM', 5000);
          log.end();
        },
        restart: async (signal, downMs = 0) => {
          await current?.stop(signal, 5000);
          await sleep(downMs);
          await launch();
        },
      };
      started.push(agent);
      await launch();
      options.progress(
        `agent ${journal.host} on ${agent.url} (TLS, certificate from OpenBao PKI) serving ${journal.dir ?? "this machine's journal"}`,
      );
    }
    return started;
  } catch (err) {
    await Promise.all(started.map((a) => a.stop()));
    throw err;
  }
}

/** GET /healthz over HTTPS, verifying the agent's certificate against the CA. */
function healthy(url: string, ca: string): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const req = get(`${url}/healthz`, { ca, agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', reject);
  });
}
