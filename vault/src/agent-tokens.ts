import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { InfralogsError, agentTokenPath } from '@infralogs/core';
import type { VaultClient } from '@infralogs/vault-rotator';
import { writeFileAtomic } from './files';

/**
 * Agent-token rotation with overlap. Step 1 (`rotateAgentToken`): a new random token is appended
 * to the agent's tokens file (the agent re-reads it and accepts old and new), then written to KV
 * `agents/<host>`, so fetch-host switches to it. Step 2, after the overlap (`retireAgentTokens`):
 * every token other than the one in KV is removed from the file. Tokens never reach a log.
 *
 * File format (the agent's): one token per line; blank lines and lines starting with '#' ignored.
 */
export interface AgentTokenTarget {
  host: string;
  tokensFile: string;
  /** A client logged in with the agent-tokens policy (or an admin token). */
  vault: VaultClient;
  kvMount: string;
}

const isToken = (line: string) => line.trim() !== '' && !line.trim().startsWith('#');

async function readLines(path: string): Promise<string[]> {
  try {
    const text = await readFile(path, 'utf8');
    return text.split(/\r?\n/).filter((line, i, all) => i < all.length - 1 || line !== '');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

export function newAgentToken(): string {
  return randomBytes(32).toString('base64url');
}

/** Adds a new token to the file and to KV; returns the KV version written (no token). */
export async function rotateAgentToken(
  target: AgentTokenTarget,
): Promise<{ kvVersion: number; fileEntries: number }> {
  const path = agentTokenPath(target.kvMount, target.host);
  const token = newAgentToken();
  const lines = await readLines(target.tokensFile);
  // The agent must accept the token before fetch-host can pick it up from KV.
  await writeFileAtomic(target.tokensFile, [...lines, token].join('\n') + '\n');
  const answer = await target.vault.write<{ version?: number }>(path, { data: { token } });
  return { kvVersion: Number(answer?.data?.version ?? 0), fileEntries: lines.filter(isToken).length + 1 };
}

/** Removes every token but the one in KV from the file. Refuses if KV's token is not in the file. */
export async function retireAgentTokens(target: AgentTokenTarget): Promise<{ removed: number }> {
  const path = agentTokenPath(target.kvMount, target.host);
  const current = (await target.vault.readIfExists<{ data?: { token?: string } }>(path))?.data?.data?.token;
  if (!current) throw new InfralogsError('NOT_FOUND', `no agent token in KV for host ${target.host}`);
  const lines = await readLines(target.tokensFile);
  if (!lines.some((l) => l.trim() === current)) {
    throw new InfralogsError(
      'CONFLICT',
      `the token in KV for ${target.host} is not in ${target.tokensFile}: retiring would lock fetch-host out`,
    );
  }
  const kept = lines.filter((l) => !isToken(l) || l.trim() === current);
  await writeFileAtomic(target.tokensFile, kept.join('\n') + '\n');
  return { removed: lines.length - kept.length };
}
