import { createHmac, timingSafeEqual } from 'node:crypto';
import { FailureLimiter, InfralogsError, parseUsersFile, verifyPassword } from '@infralogs/core';

/**
 * The dashboard's own login (OpenFaaS does not authenticate function routes).
 *
 * - Users come from a secret (`dashboard-users`): `name:scrypt$…` lines, hashes only.
 * - A session is the cookie `infralogs_session` = `name.expiry.HMAC-SHA256(key, name.expiry)`, the key
 *   being the `dashboard-session-key` secret (shared by every replica of the function). HttpOnly,
 *   SameSite=Strict, Path = the function's base path, Secure when the request came over HTTPS.
 * - Passwords are checked by scrypt and compared in constant time (unknown users too). Failures are
 *   remembered per user name and per client by core's FailureLimiter (the agent and the function
 *   wrapper use the same rule): each further attempt waits twice as long, and a success forgets them.
 */

export const SESSION_COOKIE = 'infralogs_session';
export const SESSION_MS = 12 * 3_600_000;

export interface AuthSecrets {
  users: Map<string, string>;
  key: Buffer;
}

export interface Auth {
  /** The session's user name, or null without a valid session. */
  session(cookieHeader: string | undefined): Promise<string | null>;
  /** Checks a login (slowed when repeated); answers the Set-Cookie value, or UNAUTHORIZED. */
  login(user: string, password: string, client: string, secure: boolean): Promise<string>;
  logoutCookie(secure: boolean): string;
}

export function createAuth(options: {
  /** Reads the secrets; called at most every few seconds (rotated files are picked up). */
  loadSecrets: () => Promise<AuthSecrets>;
  path: string;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}): Auth {
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? ((ms) => new Promise<void>((r) => setTimeout(r, ms)));
  let cached: { at: number; secrets: Promise<AuthSecrets> } | null = null;
  const secrets = () => {
    if (!cached || now() - cached.at > 10_000) {
      const loading = options.loadSecrets();
      loading.catch(() => (cached = null));
      cached = { at: now(), secrets: loading };
    }
    return cached.secrets;
  };
  const limiter = new FailureLimiter({ now, sleep });
  const sign = (key: Buffer, payload: string) =>
    createHmac('sha256', key).update(payload).digest('base64url');
  const cookie = (value: string, maxAgeS: number, secure: boolean) =>
    `${SESSION_COOKIE}=${value}; Path=${options.path}; Max-Age=${maxAgeS}; HttpOnly; SameSite=Strict${secure ? '; Secure' : ''}`;

  return {
    async session(header) {
      const value = readCookie(header, SESSION_COOKIE);
      if (!value) return null;
      const [name64, expiry, mac] = value.split('.');
      if (!name64 || !expiry || !mac || !/^\d{1,15}$/.test(expiry) || Number(expiry) < now()) return null;
      const { users, key } = await secrets();
      const expected = Buffer.from(sign(key, `${name64}.${expiry}`));
      const given = Buffer.from(mac);
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) return null;
      const name = Buffer.from(name64, 'base64url').toString('utf8');
      // A user removed from the secret loses their session at once.
      return users.has(name) ? name : null;
    },

    async login(user, password, client, secure) {
      const keys = [`u:${user.toLowerCase()}`, `c:${client}`];
      await limiter.wait(keys);
      const { users, key } = await secrets();
      const ok = await verifyPassword(password, users.get(user) ?? null);
      if (!ok) {
        limiter.failed(keys);
        throw new InfralogsError('UNAUTHORIZED', 'wrong user name or password');
      }
      limiter.succeeded(keys);
      const name64 = Buffer.from(user, 'utf8').toString('base64url');
      const expiry = String(now() + SESSION_MS);
      return cookie(`${name64}.${expiry}.${sign(key, `${name64}.${expiry}`)}`, SESSION_MS / 1000, secure);
    },

    logoutCookie: (secure) => cookie('', 0, secure),
  };
}

/** One cookie's value from a Cookie header. */
export function readCookie(header: string | undefined, name: string): string | null {
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return null;
}

/** The users and key from their secret files' text; CONFIG_INVALID names the secret, never its text. */
export function parseAuthSecrets(usersText: string, keyText: string): AuthSecrets {
  let users: Map<string, string>;
  try {
    users = parseUsersFile(usersText);
  } catch (err) {
    throw new InfralogsError('CONFIG_INVALID', `secret "dashboard-users": ${(err as Error).message}`);
  }
  if (keyText.trim().length < 32)
    throw new InfralogsError(
      'CONFIG_INVALID',
      'secret "dashboard-session-key" must hold at least 32 characters',
    );
  return { users, key: Buffer.from(keyText.trim(), 'utf8') };
}
