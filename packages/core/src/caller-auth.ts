import { createHash, timingSafeEqual } from 'node:crypto';
import { InfralogsError } from './errors';
import type { FunctionEvent } from './faas';

/**
 * Caller tokens. OpenFaaS CE does not authenticate `/function/` routes, so every callable function
 * checks `Authorization: Bearer <token>` itself against its secret, and the agent does the same
 * against its tokens file. A secret holds one token per line (blank lines and `#` comments
 * ignored), so a token can be rotated with overlap. SHA-256 digests of equal length are compared
 * in constant time, every token in turn, so neither the length nor which token matched shows.
 */
export function parseTokens(text: string): string[] {
  return text
    .split('\n')
    .map((t) => t.trim())
    .filter((t) => t !== '' && !t.startsWith('#'));
}

/** The SHA-256 digest a token is compared by (holders may keep only digests, as the agent does). */
export function tokenDigest(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

/** Whether `given` matches one of `digests`, comparing every one in constant time. */
export function digestMatches(given: string | undefined, digests: readonly Buffer[]): boolean {
  if (given === undefined) return false;
  const g = tokenDigest(given);
  let ok = false;
  for (const d of digests) if (timingSafeEqual(g, d)) ok = true;
  return ok;
}

/** The token of an `Authorization: Bearer <token>` header, or undefined. */
export function bearerToken(headers: FunctionEvent['headers']): string | undefined {
  const header = headers.authorization ?? headers.Authorization;
  const value = Array.isArray(header) ? header[0] : header;
  return /^Bearer\s+(\S+)\s*$/i.exec(value ?? '')?.[1];
}

export function tokenMatches(given: string | undefined, tokens: readonly string[]): boolean {
  return digestMatches(given, tokens.map(tokenDigest));
}

export function callerTokenMatches(headers: FunctionEvent['headers'], tokens: readonly string[]): boolean {
  return tokenMatches(bearerToken(headers), tokens);
}

/** Throws UNAUTHORIZED unless the request carries one of `tokens`. */
export function requireCallerToken(headers: FunctionEvent['headers'], tokens: readonly string[]): void {
  if (!callerTokenMatches(headers, tokens)) {
    throw new InfralogsError('UNAUTHORIZED', 'missing or wrong caller token');
  }
}

/**
 * The request body as JSON, whatever the wrapper made of it: already parsed (application/json),
 * text or bytes (other content types; curl without -H sends none), or nothing (a body-less POST).
 * An empty body is `undefined`; text that is not JSON is BAD_REQUEST.
 */
export function parseJsonBody(body: unknown): unknown {
  if (body === undefined || body === null) return undefined;
  const text = Buffer.isBuffer(body) ? body.toString('utf8') : body;
  if (typeof text !== 'string') return text;
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    throw new InfralogsError('BAD_REQUEST', 'request body is not JSON');
  }
}
