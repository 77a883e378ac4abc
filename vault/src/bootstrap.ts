import { randomBytes } from 'node:crypto';
import mysql from 'mysql2/promise';
import { InfralogsError, createLogger, type Logger } from '@infralogs/core';
import { VaultClient } from '@infralogs/vault-rotator';
import { sameSettings } from './compare';
import { credentialsPath, resolveNames, type MountNames, type Names } from './names';
import { agentCertRole, ensurePkiCa, type PkiSettings } from './pki';
import { loadPolicy, type PolicyKind } from './policies';

/**
 * Configures a Vault or OpenBao for Infralogs over the HTTP API both share. Idempotent: each step
 * reads what is there and writes only what differs, so a second run changes nothing. After the
 * database connection is configured, Vault rotates its MySQL user's password (rotate-root): no one
 * knows it any more, and later runs leave the connection alone unless its address or user changes.
 */
export interface BootstrapOptions {
  vault: { addr: string; token: string; requestTimeoutMs?: number };
  mysql: {
    /** The primary, as Vault reaches it. */
    host: string;
    port?: number;
    /** The Infralogs database the roles are granted on. Default `infralogs`. */
    database?: string;
    /** The primary as this process reaches it, when that differs (default host/port). */
    adminHost?: string;
    adminPort?: number;
    /**
     * An account that may create users and grant (e.g. root), used once to create Vault's own MySQL
     * user. Needed only when the connection is not configured yet (or `reconfigure` is set).
     */
    bootstrapAdmin?: { user: string; password: string };
    /** The MySQL user Vault manages others with. Default `vault_admin`. */
    vaultUser?: string;
    /** CA certificate (PEM) when Vault must reach MySQL over TLS. */
    tlsCa?: string;
  };
  /** Names derive from this prefix: `<prefix>-writer`, `<prefix>-reader`, ... Default `infralogs`. */
  prefix?: string;
  mounts?: MountNames;
  ttl?: {
    /** Database credentials: default_ttl (default 5m) and max_ttl (default 1h). */
    credentials?: string;
    credentialsMax?: string;
    /** Login tokens (AppRole, Kubernetes): token_ttl (default 1h) and token_max_ttl (default 24h). */
    token?: string;
    tokenMax?: string;
  };
  /** Kubernetes auth for the cluster; skipped when absent (it cannot be used without a cluster). */
  kubernetes?: {
    host: string;
    caCert?: string;
    tokenReviewerJwt?: string;
    /** Where the functions run and as whom. OpenFaaS CE: `openfaas-fn` and `default`. */
    namespace?: string;
    serviceAccount?: string;
    /** The migration Job's namespace and service account (defaults `infralogs`, `infralogs-migrator`). */
    migratorNamespace?: string;
    migratorServiceAccount?: string;
    audience?: string;
  };
  /** PKI for agent certificates (default on, with PkiSettings' defaults); false skips it. */
  pki?: PkiSettings | false;
  /** Recreate Vault's MySQL user and the connection even if configured (needs bootstrapAdmin). */
  reconfigure?: boolean;
  logger?: Logger;
}

export interface BootstrapResult {
  mounts: {
    database: string;
    kv: string;
    approle: string;
    kubernetes: string | undefined;
    pki: string | undefined;
  };
  /** Database roles (also the policy, AppRole and Kubernetes role names). */
  roles: { writer: string; reader: string; migrator: string };
  credentialsPaths: { writer: string; reader: string; migrator: string };
  policies: { writer: string; reader: string; migrator: string; agentTokens: string; token: string };
  /** AppRole role ids; callers issue secret ids (`auth/<approle>/role/<role>/secret-id`). */
  approle: {
    writer: { role: string; roleId: string };
    reader: { role: string; roleId: string };
    migrator: { role: string; roleId: string };
  };
  kubernetes: { writer: string; reader: string; migrator: string } | undefined;
  /** The PKI mount, the agent-certificate role and the CA certificate (PEM, public). */
  pki: { mount: string; role: string; ca: string } | undefined;
  vaultUser: string;
  /** What this run created or updated; empty when everything was already in place. */
  changed: string[];
}

/**
 * What the writer (ingest, collect, fetch-host) may do, table by table: exactly the statements of
 * the store code they run (packages/core/src/store), nothing on `schema_migrations`, and no DELETE,
 * DROP or ALTER anywhere. `logs` is append-only for the writer: a stolen writer credential can add
 * entries but not rewrite or remove stored history.
 */
export const WRITER_GRANTS = {
  // LOAD DATA LOCAL INFILE or multi-row INSERT (no IGNORE, REPLACE or ON DUPLICATE KEY), and the
  // read of the identities already stored.
  logs: 'SELECT, INSERT',
  // Read by name (fetch-host, collect, ingest) and locked with the checkpoint (SELECT ... FOR
  // UPDATE). MySQL 8 wants UPDATE, DELETE or LOCK TABLES besides SELECT on every table a locking
  // read locks (MariaDB does not): UPDATE of the timestamp alone satisfies it without letting the
  // writer change where an agent is reached (agent_url) or which hosts are pulled (enabled).
  // Hosts are registered by an operator (upsertHost), never by a function.
  hosts: 'SELECT, UPDATE (updated_at)',
  // UPDATE to move it after a batch, INSERT ... ON DUPLICATE KEY UPDATE for a host added by hand.
  checkpoints: 'SELECT, INSERT, UPDATE',
  // INSERT ... ON DUPLICATE KEY UPDATE n = n + VALUES(n): reads n, hence SELECT.
  log_counts_hourly: 'SELECT, INSERT, UPDATE',
  // The same upsert per identifier/comm/unit.
  log_field_counts_hourly: 'SELECT, INSERT, UPDATE',
  log_field_counts_daily: 'SELECT, INSERT, UPDATE',
  // INSERT ... ON DUPLICATE KEY UPDATE of the heartbeat and the newest entry time (reads newest_ts).
  host_activity: 'SELECT, INSERT, UPDATE',
  // INSERT IGNORE only.
  gaps: 'INSERT',
  // collect: beginRun, recordHostResult (reads lock_ms), finishRun.
  runs: 'SELECT, INSERT, UPDATE',
  // INSERT ... ON DUPLICATE KEY UPDATE col = VALUES(col): MariaDB asks for SELECT on those columns.
  run_hosts: 'SELECT, INSERT, UPDATE',
  // The row exists from the migration; collect locks and updates it.
  run_lock: 'SELECT, UPDATE',
} as const satisfies Record<string, string>;

/**
 * The statements each database role runs. Revocation tolerates an already-dropped user.
 *
 * The writer's grants are table-level, and MySQL and MariaDB refuse a table-level GRANT on a table
 * that does not exist: Vault runs these statements when it issues writer credentials, so the
 * migrations must have run before (the local stack and deploy/ do: migrate, then functions). A
 * migration that adds a table the writer uses must add it here and re-run the bootstrap.
 */
export function roleStatements(database: string) {
  const db = mysql.escapeId(database);
  const user = "'{{name}}'@'%'";
  const createUser = `CREATE USER ${user} IDENTIFIED BY '{{password}}'`;
  const onDatabase = (grants: string) => [createUser, `GRANT ${grants} ON ${db}.* TO ${user}`];
  return {
    writer: [
      createUser,
      ...Object.entries(WRITER_GRANTS).map(
        ([table, grants]) => `GRANT ${grants} ON ${db}.${mysql.escapeId(table)} TO ${user}`,
      ),
    ],
    reader: onDatabase('SELECT'),
    // Migrations, partition maintenance and retention.
    migrator: onDatabase('SELECT, INSERT, UPDATE, DELETE, CREATE, ALTER, DROP, INDEX, REFERENCES'),
    revoke: [`DROP USER IF EXISTS ${user}`],
  };
}

/** Everything Vault's MySQL user must hold WITH GRANT OPTION to hand out the roles' grants. */
const VAULT_USER_GRANTS = 'SELECT, INSERT, UPDATE, DELETE, CREATE, ALTER, DROP, INDEX, REFERENCES';

/** What every bootstrap step works with. */
interface Run {
  options: BootstrapOptions;
  vault: VaultClient;
  names: Names;
  step: Steps;
  log: Logger;
  database: string;
  vaultUser: string;
  ttl: { credentials: string; credentialsMax: string; token: string; tokenMax: string };
}

/**
 * The steps, in order: engines (database, KV), the database connection, the database roles, the
 * policies, AppRole, Kubernetes auth (when configured), PKI for agent certificates. Each step is
 * idempotent on its own; the result names everything the callers need (no secrets).
 */
export async function bootstrap(options: BootstrapOptions): Promise<BootstrapResult> {
  const log = options.logger ?? createLogger({ component: 'vault-bootstrap' });
  const vault = new VaultClient({
    addr: options.vault.addr,
    token: options.vault.token,
    ...(options.vault.requestTimeoutMs ? { requestTimeoutMs: options.vault.requestTimeoutMs } : {}),
  });
  const changed: string[] = [];
  const run: Run = {
    options,
    vault,
    names: resolveNames(options.prefix, options.mounts),
    step: new Steps(vault, changed, log),
    log,
    database: options.mysql.database ?? 'infralogs',
    vaultUser: options.mysql.vaultUser ?? 'vault_admin',
    ttl: {
      credentials: options.ttl?.credentials ?? '5m',
      credentialsMax: options.ttl?.credentialsMax ?? '1h',
      token: options.ttl?.token ?? '1h',
      tokenMax: options.ttl?.tokenMax ?? '24h',
    },
  };
  const { names, step } = run;

  await step.mount('sys/mounts', names.mounts.database, { type: 'database' });
  await step.mount('sys/mounts', names.mounts.kv, { type: 'kv', options: { version: '2' } });
  await configureConnection(step, vault, names, options, run.database, run.vaultUser, log);
  await ensureDatabaseRoles(run);
  const policyKinds: PolicyKind[] = ['writer', 'reader', 'migrator', 'agentTokens', 'token'];
  for (const kind of policyKinds) await step.policy(names[kind], await loadPolicy(kind, names));
  const approle = await ensureAppRoles(run);
  const kubernetes = await ensureKubernetes(run);
  const pki = options.pki === false ? undefined : await ensurePki(run, options.pki ?? {});

  log.info('vault.bootstrap.done', { changed: changed.length, prefix: names.prefix });
  return {
    mounts: {
      ...names.mounts,
      kubernetes: kubernetes ? names.mounts.kubernetes : undefined,
      pki: pki ? names.mounts.pki : undefined,
    },
    roles: { writer: names.writer, reader: names.reader, migrator: names.migrator },
    credentialsPaths: {
      writer: credentialsPath(names, 'writer'),
      reader: credentialsPath(names, 'reader'),
      migrator: credentialsPath(names, 'migrator'),
    },
    policies: {
      writer: names.writer,
      reader: names.reader,
      migrator: names.migrator,
      agentTokens: names.agentTokens,
      token: names.token,
    },
    approle,
    kubernetes,
    pki,
    vaultUser: run.vaultUser,
    changed,
  };
}

async function ensureDatabaseRoles({ step, names, database, ttl }: Run) {
  const statements = roleStatements(database);
  for (const role of ['writer', 'reader', 'migrator'] as const) {
    await step.ensure(`${names.mounts.database}/roles/${names[role]}`, {
      db_name: names.connection,
      creation_statements: statements[role],
      revocation_statements: statements.revoke,
      default_ttl: ttl.credentials,
      max_ttl: ttl.credentialsMax,
    });
  }
}

/** Tokens carry only our policy (no `default`): the policies list every path they need. */
function tokenSettings({ names, ttl }: Run, role: 'writer' | 'reader' | 'migrator') {
  return {
    token_policies: [names[role], names.token],
    token_no_default_policy: true,
    token_ttl: ttl.token,
    token_max_ttl: ttl.tokenMax,
  };
}

async function ensureAppRoles(run: Run): Promise<BootstrapResult['approle']> {
  const { step, names, vault } = run;
  await step.mount('sys/auth', names.mounts.approle, { type: 'approle' });
  const approle = {} as BootstrapResult['approle'];
  for (const role of ['writer', 'reader', 'migrator'] as const) {
    const path = `auth/${names.mounts.approle}/role/${names[role]}`;
    // secret_ids do not expire by themselves: the stack rotates them with the function secrets.
    await step.ensure(path, { ...tokenSettings(run, role), secret_id_ttl: '0s', secret_id_num_uses: 0 });
    const roleId = (await vault.read<{ role_id: string }>(`${path}/role-id`)).data?.role_id;
    if (!roleId) throw new InfralogsError('INTERNAL', `${path}/role-id returned no role_id`);
    approle[role] = { role: names[role], roleId };
  }
  return approle;
}

async function ensureKubernetes(run: Run): Promise<BootstrapResult['kubernetes']> {
  const { step, names } = run;
  const k8s = run.options.kubernetes;
  if (!k8s) return undefined;
  const mount = names.mounts.kubernetes;
  await step.mount('sys/auth', mount, { type: 'kubernetes' });
  const config: Record<string, unknown> = { kubernetes_host: k8s.host };
  if (k8s.caCert) config.kubernetes_ca_cert = k8s.caCert;
  // Outside the cluster Vault has no local service-account files to fall back on.
  if (k8s.caCert || k8s.tokenReviewerJwt) config.disable_local_ca_jwt = true;
  await step.ensure(
    `auth/${mount}/config`,
    config,
    k8s.tokenReviewerJwt ? { token_reviewer_jwt: k8s.tokenReviewerJwt } : {},
  );
  const bind = (namespace: string, serviceAccount: string) => ({
    bound_service_account_names: [serviceAccount],
    bound_service_account_namespaces: [namespace],
    ...(k8s.audience ? { audience: k8s.audience } : {}),
  });
  const fnNamespace = k8s.namespace ?? 'openfaas-fn';
  const fnAccount = k8s.serviceAccount ?? 'default';
  for (const role of ['writer', 'reader'] as const) {
    await step.ensure(`auth/${mount}/role/${names[role]}`, {
      ...bind(fnNamespace, fnAccount),
      ...tokenSettings(run, role),
    });
  }
  await step.ensure(`auth/${mount}/role/${names.migrator}`, {
    ...bind(k8s.migratorNamespace ?? 'infralogs', k8s.migratorServiceAccount ?? 'infralogs-migrator'),
    ...tokenSettings(run, 'migrator'),
  });
  return { writer: names.writer, reader: names.reader, migrator: names.migrator };
}

/**
 * PKI for agent certificates: the engine (its max_lease_ttl set at mount time, since a CA is
 * capped by it), a root CA generated inside Vault once, and the role that issues agent server
 * certificates. The CA's PEM is the bundle fetch-host trusts (its `agent-ca` secret).
 */
async function ensurePki(run: Run, settings: PkiSettings): Promise<NonNullable<BootstrapResult['pki']>> {
  const { step, names, vault } = run;
  const mount = names.mounts.pki;
  await step.mount('sys/mounts', mount, {
    type: 'pki',
    config: { max_lease_ttl: settings.caTtl ?? '87600h' },
  });
  const { ca, created } = await ensurePkiCa(vault, mount, settings);
  if (created) step.record(`generated the agents' root CA in ${mount}`);
  await step.ensure(`${mount}/roles/${names.agentCert}`, agentCertRole(settings));
  return { mount, role: names.agentCert, ca };
}

/**
 * The database connection. Configured and rotate-root'ed once; afterwards only the fields that
 * do not need the (unknown) password are updated in place.
 */
async function configureConnection(
  step: Steps,
  vault: VaultClient,
  names: Names,
  options: BootstrapOptions,
  database: string,
  vaultUser: string,
  log: Logger,
) {
  const path = `${names.mounts.database}/config/${names.connection}`;
  const { host, port = 3306 } = options.mysql;
  const address = {
    connection_url: `{{username}}:{{password}}@tcp(${host}:${port})/`,
    username: vaultUser,
  };
  // Users read `v-writer-<random 20>`: the role stays visible and the name fits MySQL's 32 characters.
  const managed: Record<string, unknown> = {
    allowed_roles: [names.writer, names.reader, names.migrator],
    username_template: `{{ printf "v-%s-%s" (.RoleName | replace "${names.prefix}-" "" | truncate 8) (random 20) | truncate 32 }}`,
    ...(options.mysql.tlsCa ? { tls_ca: options.mysql.tlsCa } : {}),
  };
  const existing = (await vault.readIfExists<Record<string, unknown>>(path))?.data;
  const details = { ...(existing?.connection_details as Record<string, unknown> | undefined), ...existing };
  if (existing && !options.reconfigure && sameSettings(details, address)) {
    await step.ensure(path, managed, {}, details);
    return;
  }
  const admin = options.mysql.bootstrapAdmin;
  if (!admin) {
    throw new InfralogsError(
      'CONFIG_INVALID',
      `${path} is ${existing ? 'configured for another address or user' : 'not configured yet'}: ` +
        'the bootstrap MySQL admin credentials are needed (MYSQL_BOOTSTRAP_USER, MYSQL_BOOTSTRAP_PASSWORD_FILE)',
    );
  }
  // A fresh password only Vault will hold: it is sent once and replaced by rotate-root below.
  const password = randomBytes(24).toString('base64url');
  await createVaultUser(options, admin, vaultUser, password, database);
  await vault.write(path, {
    plugin_name: 'mysql-database-plugin',
    ...address,
    password,
    ...managed,
    verify_connection: true,
  });
  await vault.write(`${names.mounts.database}/rotate-root/${names.connection}`, {});
  step.record(`${existing ? 'reconfigured' : 'configured'} ${path} and rotated its root credentials`);
  log.info('vault.bootstrap.connection', { path, vaultUser, mysql: `${host}:${port}` });
}

async function createVaultUser(
  options: BootstrapOptions,
  admin: { user: string; password: string },
  vaultUser: string,
  password: string,
  database: string,
) {
  const conn = await mysql.createConnection({
    host: options.mysql.adminHost ?? options.mysql.host,
    port: options.mysql.adminPort ?? options.mysql.port ?? 3306,
    user: admin.user,
    password: admin.password,
  });
  try {
    // Created on the primary; replication carries it to the replica.
    await conn.query(`CREATE USER IF NOT EXISTS ?@'%' IDENTIFIED BY ?`, [vaultUser, password]);
    await conn.query(`ALTER USER ?@'%' IDENTIFIED BY ?`, [vaultUser, password]);
    await conn.query(`GRANT CREATE USER ON *.* TO ?@'%'`, [vaultUser]);
    await conn.query(
      `GRANT ${VAULT_USER_GRANTS} ON ${mysql.escapeId(database)}.* TO ?@'%' WITH GRANT OPTION`,
      [vaultUser],
    );
  } finally {
    await conn.end();
  }
}

/** Read-compare-write steps that record what they changed. */
class Steps {
  private readonly mountsSeen = new Map<
    string,
    Record<string, { type?: string; options?: { version?: string } | null }>
  >();

  constructor(
    private readonly vault: VaultClient,
    private readonly changed: string[],
    private readonly log: Logger,
  ) {}

  record(what: string) {
    this.changed.push(what);
    this.log.info('vault.bootstrap.changed', { what });
  }

  /** Enables a secrets engine (`sys/mounts`) or auth method (`sys/auth`) unless it is there. */
  async mount(
    kind: 'sys/mounts' | 'sys/auth',
    path: string,
    body: { type: string; options?: { version: string }; config?: Record<string, string> },
  ) {
    let table = this.mountsSeen.get(kind);
    if (!table) {
      table = ((await this.vault.read(kind)).data ?? {}) as NonNullable<typeof table>;
      this.mountsSeen.set(kind, table);
    }
    const existing = table[`${path}/`];
    if (existing) {
      const version = existing.options?.version ?? '1';
      if (existing.type !== body.type || (body.options && version !== body.options.version)) {
        throw new InfralogsError(
          'CONFIG_INVALID',
          `${kind}/${path} exists as ${existing.type}${existing.type === 'kv' ? ` v${version}` : ''}, not ${body.type}`,
        );
      }
      return;
    }
    await this.vault.write(`${kind}/${path}`, body);
    table[`${path}/`] = body;
    this.record(`enabled ${body.type} at ${path}`);
  }

  /** Writes `desired` (plus `secrets`, which Vault never echoes) unless Vault already has it. */
  async ensure(
    path: string,
    desired: Record<string, unknown>,
    secrets: Record<string, unknown> = {},
    current?: Record<string, unknown>,
  ) {
    const existing = current ?? (await this.vault.readIfExists<Record<string, unknown>>(path))?.data;
    if (Object.keys(secrets).length === 0 && sameSettings(existing, desired)) return;
    await this.vault.write(path, { ...desired, ...secrets });
    this.record(`${existing ? 'updated' : 'created'} ${path}`);
  }

  async policy(name: string, text: string) {
    const path = `sys/policies/acl/${name}`;
    const existing = (await this.vault.readIfExists<{ policy?: string }>(path))?.data;
    if (existing?.policy === text) return;
    await this.vault.write(path, { policy: text });
    this.record(`${existing ? 'updated' : 'created'} policy ${name}`);
  }
}
