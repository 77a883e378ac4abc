import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';

/**
 * Password hashes for people (the dashboard's users), never plain text: scrypt from node:crypto,
 * written `scrypt$N$r$p$<salt base64url>$<hash base64url>` so the cost can be raised later without
 * invalidating existing hashes. A users file holds one `name:hash` per line (`#` starts a comment).
 */

const DEFAULT = { N: 2 ** 15, r: 8, p: 1 };
const KEY_BYTES = 32;
const HASH = /^scrypt\$(\d{1,8})\$(\d{1,3})\$(\d{1,3})\$([A-Za-z0-9_-]{16,})\$([A-Za-z0-9_-]{43})$/;

function derive(password: string, salt: Buffer, o: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scrypt(
      password,
      salt,
      KEY_BYTES,
      { ...o, maxmem: 256 * (o.N ?? 1) * (o.r ?? 8) + 1024 * 1024 },
      (err, key) => (err ? reject(err) : resolve(key)),
    ),
  );
}

export async function hashPassword(password: string, cost = DEFAULT): Promise<string> {
  const salt = randomBytes(16);
  const key = await derive(password, salt, cost);
  return `scrypt$${cost.N}$${cost.r}$${cost.p}$${salt.toString('base64url')}$${key.toString('base64url')}`;
}

export const isPasswordHash = (hash: string) => HASH.test(hash);

/**
 * Whether the password matches the hash, compared in constant time. With `hash` null (no such
 * user) a dummy hash of the same cost is checked, so the answer takes as long either way.
 */
export async function verifyPassword(password: string, hash: string | null): Promise<boolean> {
  const m = HASH.exec(hash ?? '') ?? HASH.exec(DUMMY)!;
  const [N, r, p] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const expected = Buffer.from(m[5]!, 'base64url');
  const key = await derive(password, Buffer.from(m[4]!, 'base64url'), { N, r, p });
  return timingSafeEqual(key, expected) && hash !== null;
}
const DUMMY = `scrypt$${DEFAULT.N}$${DEFAULT.r}$${DEFAULT.p}$${'A'.repeat(22)}$${'A'.repeat(43)}`;

/** `name:hash` lines → a map; a malformed line is an error naming its line number, never its text. */
export function parseUsersFile(text: string): Map<string, string> {
  const users = new Map<string, string>();
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const colon = line.indexOf(':');
    const name = line.slice(0, colon);
    const hash = line.slice(colon + 1);
    if (colon < 1 || !isPasswordHash(hash)) throw new Error(`line ${i + 1} is not "name:scrypt$…"`);
    users.set(name, hash);
  });
  return users;
}
