import { createHash, timingSafeEqual } from 'node:crypto';
import { InfralogsError, type FunctionEvent } from '@infralogs/core';

/**
 * OpenFaaS does not authenticate `/function/` routes: ingest checks `Authorization: Bearer <token>`
 * itself against the `ingest-token` secret (one or more tokens, one a line, so a token can be
 * rotated with overlap). Digests of equal length are compared in constant time, every token in
 * turn, so neither the length nor which token matched shows in the timing.
 */
const digest = (s: string) => createHash('sha256').update(s).digest();

export function requireBearer(headers: FunctionEvent['headers'], tokens: string[]): void {
  const header = headers.authorization ?? headers.Authorization;
  const value = Array.isArray(header) ? header[0] : header;
  const given = /^Bearer\s+(\S+)\s*$/i.exec(value ?? '')?.[1];
  let ok = false;
  if (given !== undefined) {
    const g = digest(given);
    for (const token of tokens) if (timingSafeEqual(g, digest(token))) ok = true;
  }
  if (!ok) throw new InfralogsError('UNAUTHORIZED', 'missing or wrong caller token');
}

/** The tokens of a secret file: one per line, blank lines ignored. */
export const tokensOf = (secret: string): string[] =>
  secret
    .split('\n')
    .map((t) => t.trim())
    .filter((t) => t !== '');
