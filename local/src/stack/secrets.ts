import { randomBytes } from 'node:crypto';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { hashPassword } from '@infralogs/core';

/** The caller-token secrets of stack.yml: each callable function checks its own. */
export const CALLER_TOKEN_SECRETS = ['collect-token', 'fetch-host-token', 'ingest-token'] as const;

export const newToken = () => randomBytes(24).toString('base64url');

/** The one dashboard user the local stack makes; its password is new on every start. */
export const DASHBOARD_USER = 'admin';

/**
 * The dashboard's two secrets of stack.yml: `dashboard-users` (the user with its scrypt hash, never
 * the password) and `dashboard-session-key` (signs session cookies). The password is answered so
 * `npm start` can print it, once.
 */
export async function dashboardSecrets() {
  const password = randomBytes(12).toString('base64url');
  return {
    login: { user: DASHBOARD_USER, password },
    secrets: {
      'dashboard-users': `${DASHBOARD_USER}:${await hashPassword(password)}`,
      'dashboard-session-key': randomBytes(32).toString('base64url'),
    },
  };
}

/**
 * Writes one function's secrets as OpenFaaS mounts them: a directory of files named after the
 * secrets (SECRETS_DIR replaces /var/openfaas/secrets), readable by this user only.
 */
export async function writeSecretsDir(dir: string, secrets: Record<string, string>): Promise<string> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);
  for (const [name, value] of Object.entries(secrets)) {
    await writeFile(join(dir, name), `${value}\n`, { mode: 0o600 });
  }
  return dir;
}
