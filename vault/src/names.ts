/**
 * Every name the bootstrap creates, derived from one prefix and the mount names, so the functions,
 * the policies and the tests agree (tests use a unique prefix and mounts per file).
 */
export interface MountNames {
  /** Database secrets engine. Default `database`. */
  database?: string;
  /** KV v2 for agent tokens. Default `infralogs-kv`. */
  kv?: string;
  /** AppRole auth (local stack). Default `approle`. */
  approle?: string;
  /** Kubernetes auth (cluster). Default `kubernetes`. */
  kubernetes?: string;
  /** PKI secrets engine issuing agent certificates. Default `infralogs-pki`. */
  pki?: string;
}

export interface Names {
  prefix: string;
  mounts: Required<MountNames>;
  /** The database secrets engine connection. */
  connection: string;
  /** Database roles, policies, AppRole roles and Kubernetes roles share these names. */
  writer: string;
  reader: string;
  migrator: string;
  agentTokens: string;
  /** The PKI role that issues agent server certificates. */
  agentCert: string;
  /** The policy every login token gets for itself (lookup/renew/revoke-self). */
  token: string;
}

export function resolveNames(prefix = 'infralogs', mounts: MountNames = {}): Names {
  if (!/^[a-z][a-z0-9_]{0,20}$/.test(prefix)) {
    throw new Error(
      `prefix "${prefix}" must be 1-21 lower-case letters, digits or _ (it goes into MySQL user names)`,
    );
  }
  return {
    prefix,
    mounts: {
      database: mounts.database ?? 'database',
      kv: mounts.kv ?? 'infralogs-kv',
      approle: mounts.approle ?? 'approle',
      kubernetes: mounts.kubernetes ?? 'kubernetes',
      pki: mounts.pki ?? 'infralogs-pki',
    },
    connection: prefix,
    writer: `${prefix}-writer`,
    reader: `${prefix}-reader`,
    migrator: `${prefix}-migrator`,
    agentTokens: `${prefix}-agent-tokens`,
    agentCert: `${prefix}-agent`,
    token: `${prefix}-token`,
  };
}

/** Where a function leases credentials for a database role. */
export function credentialsPath(names: Names, role: 'writer' | 'reader' | 'migrator'): string {
  return `${names.mounts.database}/creds/${names[role]}`;
}
