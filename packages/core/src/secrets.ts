import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { InfralogsError } from './errors';

/**
 * OpenFaaS mounts each secret as a file `/var/openfaas/secrets/<name>`; the local stack points
 * SECRETS_DIR at its own directory. Secrets are re-read on every call (rotated files are picked up)
 * and never appear in errors.
 */
export function secretsDir(env: Record<string, string | undefined> = process.env): string {
  return env.SECRETS_DIR || '/var/openfaas/secrets';
}

export async function readSecret(name: string, env: Record<string, string | undefined> = process.env) {
  const path = join(secretsDir(env), name);
  try {
    const value = (await readFile(path, 'utf8')).trim();
    if (!value) throw new Error('empty');
    return value;
  } catch (cause) {
    throw new InfralogsError('CONFIG_INVALID', `secret "${name}" is missing or empty (looked in ${path})`, {
      cause,
    });
  }
}

/** An optional secret: its value, or null when the file is absent (any other failure throws). */
export async function readOptionalSecret(
  name: string,
  env: Record<string, string | undefined> = process.env,
): Promise<string | null> {
  try {
    const value = (await readFile(join(secretsDir(env), name), 'utf8')).trim();
    return value === '' ? null : value;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new InfralogsError('CONFIG_INVALID', `secret "${name}" cannot be read`, { cause: err });
  }
}
