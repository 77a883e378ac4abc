// The same caller-token check as fetch-host's: an image build copies only packages/ next to a function,
// so until @infralogs/core offers it each callable function keeps its own copy.
import { timingSafeEqual } from 'node:crypto';
import { InfralogsError, type FunctionEvent } from '@infralogs/core';

/**
 * OpenFaaS CE does not authenticate `/function/` routes, so a callable function checks a caller
 * token itself: `Authorization: Bearer <token>` against its secret (one token per line, so a token
 * can be rotated with overlap), compared in constant time.
 */
export function callerTokenMatches(headers: FunctionEvent['headers'], tokens: string[]): boolean {
  const header = headers.authorization ?? headers.Authorization;
  const value = Array.isArray(header) ? header[0] : header;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(value ?? '');
  if (!match) return false;
  const given = Buffer.from(match[1]!);
  let ok = false;
  for (const token of tokens) {
    const expected = Buffer.from(token);
    // Compare every token, even after a match, so timing does not tell which one matched.
    if (expected.length === given.length && timingSafeEqual(expected, given)) ok = true;
  }
  return ok;
}

export function requireCallerToken(headers: FunctionEvent['headers'], tokens: string[]): void {
  if (!callerTokenMatches(headers, tokens)) {
    throw new InfralogsError('UNAUTHORIZED', 'missing or wrong caller token');
  }
}

/** Splits a caller-token secret into its tokens (one per line, blanks ignored). */
export const parseTokens = (secret: string): string[] =>
  secret
    .split('\n')
    .map((t) => t.trim())
    .filter((t) => t !== '');
