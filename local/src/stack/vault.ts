import { createLogger } from '@infralogs/core';
import { startOpenBao, type OpenBao, type Topology } from '@infralogs/devkit';
import { VaultClient } from '@infralogs/vault-mysql-rotator';
import { bootstrap, rotateAgentToken, writeAppRoleSecrets } from '@infralogs/vault';
import { DATABASE_NAME } from './database';
import type { Progress } from './progress';

/** The stack's OpenBao, configured by the same bootstrap as production Vault. */
export interface StackVault {
  addr: string;
  /** The dev server's root token: in memory and throw-away, never a production secret. */
  rootToken: string;
  /** Writes a fresh AppRole secret id of a Vault role (e.g. infralogs-writer) into a secrets folder. */
  writeFunctionSecrets(role: string, dir: string): Promise<void>;
  /** Issues a host's agent token: into the agent's tokens file first, then into KV for fetch-host. */
  issueAgentToken(host: string, tokensFile: string): Promise<void>;
  /**
   * Leases migrator credentials, as the agent injector does for the cluster's Jobs; `revoke` drops
   * the database user again.
   */
  leaseMigrator(): Promise<{ username: string; password: string; revoke: () => Promise<void> }>;
}

export async function startVaultServer(progress: Progress): Promise<OpenBao> {
  progress('starting the OpenBao dev server…');
  return startOpenBao();
}

/** Bootstraps OpenBao against the primary: database engine, writer/reader roles, KV, AppRole. */
export async function bootstrapVault(
  bao: OpenBao,
  topology: Topology,
  progress: Progress,
): Promise<StackVault> {
  progress('bootstrapping OpenBao: database engine, writer/reader roles, KV for agent tokens, AppRole…');
  const result = await bootstrap({
    vault: { addr: bao.addr, token: bao.rootToken },
    mysql: {
      host: topology.primary.host,
      port: topology.primary.port,
      database: DATABASE_NAME,
      bootstrapAdmin: topology.admin,
    },
    logger: createLogger({ component: 'vault-bootstrap' }, { level: 'warn' }),
  });
  const vault = new VaultClient({ addr: bao.addr, token: bao.rootToken });
  const roleKinds = { [result.roles.writer]: 'writer', [result.roles.reader]: 'reader' } as const;
  return {
    addr: bao.addr,
    rootToken: bao.rootToken,
    async writeFunctionSecrets(role, dir) {
      const kind = roleKinds[role];
      if (!kind) throw new Error(`stack.yml names Vault role "${role}", which the bootstrap does not create`);
      await writeAppRoleSecrets({ vault, result, role: kind, dir });
    },
    async issueAgentToken(host, tokensFile) {
      await rotateAgentToken({ host, tokensFile, vault, kvMount: result.mounts.kv });
    },
    async leaseMigrator() {
      const lease = await vault.readCredentials(result.credentialsPaths.migrator);
      return { ...lease.data, revoke: () => vault.revokeLease(lease.leaseId) };
    },
  };
}
