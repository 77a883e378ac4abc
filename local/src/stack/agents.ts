import { createWriteStream, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { freePort, repoRoot, startProcess, waitFor } from '@infralogs/devkit';
import type { JournalSource } from './journals';
import type { Progress } from './progress';

const AGENT_MAIN = join(repoRoot, 'agent/src/main.ts');
const TSX_LOADER = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

/** The loopback addresses of the stack's agents, one per host (all of 127/8 is loopback on Linux). */
export const AGENT_ADDRESSES = ['127.0.0.2', '127.0.0.3', '127.0.0.4'];

export interface StackAgent {
  host: string;
  url: string;
  /** The agent's metrics listener (`GET /metrics`, no token) on its own loopback address. */
  metricsAddress: string;
  journalDir: string | null;
  tokensFile: string;
  pid: number | undefined;
  stop(): Promise<void>;
}

/**
 * Starts one agent process per journal, each on its own loopback address, as each VM runs its own
 * agent. `issueToken` must put the host's token into the tokens file (and KV) before the agent
 * starts: the agent reads the file at start-up. Each agent's JSON log goes to `<logDir>/agent-<host>.log`.
 */
export async function startAgents(
  journals: JournalSource[],
  options: {
    stateDir: string;
    logDir: string;
    issueToken: (host: string, tokensFile: string) => Promise<void>;
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
      await options.issueToken(journal.host, tokensFile);
      const port = await freePort(address);
      const metricsPort = await freePort(address);
      const proc = startProcess(process.execPath, ['--import', TSX_LOADER, AGENT_MAIN], {
        cwd: repoRoot,
        env: {
          PATH: process.env.PATH,
          HOME: process.env.HOME,
          AGENT_HOST: address,
          AGENT_PORT: String(port),
          AGENT_TOKENS_FILE: tokensFile,
          AGENT_METRICS_HOST: address,
          AGENT_METRICS_PORT: String(metricsPort),
          ...(journal.dir ? { JOURNAL_DIR: journal.dir } : {}),
        },
      });
      const log = createWriteStream(join(options.logDir, `agent-${journal.host}.log`));
      proc.child.stdout?.pipe(log, { end: false });
      proc.child.stderr?.pipe(log, { end: false });
      const agent: StackAgent = {
        host: journal.host,
        url: `http://${address}:${port}`,
        metricsAddress: `${address}:${metricsPort}`,
        journalDir: journal.dir,
        tokensFile,
        pid: proc.child.pid,
        stop: async () => {
          await proc.stop('SIGTERM', 5000);
          log.end();
        },
      };
      started.push(agent);
      await waitFor(`the agent of ${journal.host} at ${agent.url}`, async () => {
        if (proc.child.exitCode !== null) throw new Error(`agent exited: ${proc.output().slice(-1000)}`);
        return (await fetch(`${agent.url}/healthz`)).ok;
      });
      options.progress(
        `agent ${journal.host} on ${agent.url} serving ${journal.dir ?? "this machine's journal"}`,
      );
    }
    return started;
  } catch (err) {
    await Promise.all(started.map((a) => a.stop()));
    throw err;
  }
}
