import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { VAULT_SECRET_FILES } from '@infralogs/core';
import type { VaultClient } from '@infralogs/vault-rotator';
import type { BootstrapResult } from './bootstrap';
import { writeFileAtomic } from './files';

/**
 * Issues an AppRole secret_id for a role and writes the pair as the OpenFaaS secret files a
 * function reads (`vault-role-id`, `vault-secret-id` in `dir`). For the local stack, which plays
 * the part faas-cli secret create plays in a cluster. Needs a token allowed to issue secret ids.
 */
export async function writeAppRoleSecrets(options: {
  vault: VaultClient;
  result: BootstrapResult;
  role: 'writer' | 'reader' | 'migrator';
  dir: string;
}): Promise<{ secretIdAccessor: string }> {
  const { role, roleId } = options.result.approle[options.role];
  const answer = await options.vault.write<{ secret_id: string; secret_id_accessor: string }>(
    `auth/${options.result.mounts.approle}/role/${role}/secret-id`,
    {},
  );
  const secretId = answer?.data?.secret_id;
  if (!secretId) throw new Error(`no secret_id issued for AppRole role ${role}`);
  await mkdir(options.dir, { recursive: true });
  await writeFileAtomic(join(options.dir, VAULT_SECRET_FILES.roleId), roleId + '\n');
  await writeFileAtomic(join(options.dir, VAULT_SECRET_FILES.secretId), secretId + '\n');
  return { secretIdAccessor: answer.data!.secret_id_accessor };
}
