import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { agentTokenPath, createLogger } from '@infralogs/core';
import { startOpenBaoServer, type OpenBao, type Topology } from '@infralogs/devkit';
import { VaultClient } from '@infralogs/vault-rotator';
import {
  bootstrap,
  issueAgentCertificate,
  rotateAgentToken,
  writeAgentCertificate,
  writeAppRoleSecrets,
} from '@infralogs/vault';
import { DATABASE_NAME } from './database';
import type { Progress } from './progress';

/** The stack's OpenBao, configured by the same bootstrap as production Vault. */
export interface StackVault {
  addr: string;
  /** This local server's root token (also in `rootTokenFile`, 0600): local only, never production. */
  rootToken: string;
  rootTokenFile: string;
  /** A client with the root token (host registration, as an operator). */
  client: VaultClient;
  kvMount: string;
  pki: { mount: string; role: string; ca: string };
  /** Where each role's database credentials are leased (the writer's lease is revoked in fault tests). */
  credentialsPaths: { writer: string; reader: string; migrator: string };
  /** Writes a fresh AppRole secret id of a Vault role (e.g. infralogs-writer) into a secrets folder. */
  writeFunctionSecrets(role: string, dir: string): Promise<void>;
  /** Makes sure the host has a token in KV that its agent's tokens file holds (created once, kept across restarts). */
  ensureAgentToken(host: string, tokensFile: string): Promise<void>;
  /** Issues the agent's certificate from the PKI engine for its URL, into the agent's TLS files. */
  issueAgentCertificate(
    host: string,
    agentUrl: string,
    files: { certFile: string; keyFile: string },
  ): Promise<void>;
  /**
   * Leases migrator credentials, as the agent injector does for the cluster's Jobs; `revoke` drops
   * the database user again.
   */
  leaseMigrator(): Promise<{ username: string; password: string; revoke: () => Promise<void> }>;
}

/**
 * OpenBao as a real server with file storage in `<stateDir>/openbao`, initialised on the first
 * start and unsealed on each (the unseal key stays in the state directory, 0600, local only).
 */
export async function startVaultServer(
  stateDir: string,
  port: number | undefined,
  progress: Progress,
): Promise<OpenBao> {
  progress('starting OpenBao (file storage in the state directory)…');
  // Its output goes with the stack's other logs.
  await mkdir(join(stateDir, 'logs'), { recursive: true });
  const bao = await startOpenBaoServer({
    dataDir: join(stateDir, 'openbao', 'data'),
    initFile: join(stateDir, 'openbao', 'init.json'),
    ...(port === undefined ? {} : { port }),
    log: progress,
    logFile: join(stateDir, 'logs', 'openbao.log'),
  });
  await writeFile(join(stateDir, 'openbao', 'root-token'), `${bao.rootToken}\n`, { mode: 0o600 });
  return bao;
}

/** Bootstraps OpenBao against the primary: database engine, roles, KV, AppRole, PKI. Idempotent. */
export async function bootstrapVault(
  bao: OpenBao,
  topology: Topology,
  stateDir: string,
  progress: Progress,
): Promise<StackVault> {
  progress('bootstrapping OpenBao: database engine, writer/reader roles, KV for agent tokens, AppRole, PKI…');
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
  progress(
    result.changed.length === 0
      ? 'OpenBao was already configured'
      : `OpenBao: ${result.changed.length} settings made`,
  );
  const vault = new VaultClient({ addr: bao.addr, token: bao.rootToken });
  const roleKinds = { [result.roles.writer]: 'writer', [result.roles.reader]: 'reader' } as const;
  const kvMount = result.mounts.kv;
  const pki = result.pki!;
  return {
    addr: bao.addr,
    rootToken: bao.rootToken,
    rootTokenFile: join(stateDir, 'openbao', 'root-token'),
    client: vault,
    kvMount,
    pki,
    credentialsPaths: result.credentialsPaths,
    async writeFunctionSecrets(role, dir) {
      const kind = roleKinds[role];
      if (!kind) throw new Error(`stack.yml names Vault role "${role}", which the bootstrap does not create`);
      await writeAppRoleSecrets({ vault, result, role: kind, dir });
    },
    async ensureAgentToken(host, tokensFile) {
      const kv = await vault.readIfExists<{ data?: { token?: string } }>(agentTokenPath(kvMount, host));
      const current = kv?.data?.data?.token;
      const file = await readFile(tokensFile, 'utf8').catch(() => '');
      if (current && file.split('\n').some((l) => l.trim() === current)) return;
      await rotateAgentToken({ host, tokensFile, vault, kvMount });
    },
    async issueAgentCertificate(host, agentUrl, files) {
      const cert = await issueAgentCertificate(vault, { mount: pki.mount, role: pki.role, host, agentUrl });
      await writeAgentCertificate(cert, files);
    },
    async leaseMigrator() {
      const lease = await vault.readCredentials(result.credentialsPaths.migrator);
      return { ...lease.data, revoke: () => vault.revokeLease(lease.leaseId) };
    },
  };
}
