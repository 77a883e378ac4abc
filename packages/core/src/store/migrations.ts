import { addColumnsSql } from '../entry';
import type { Logger } from '../log';
import { ensurePartitions, initialPartitionClause } from './partitions';
import { execute, select, withNamedLock, type Queryable } from './sql';

/**
 * Versioned schema. Each migration runs once per database and is recorded in schema_migrations.
 * Every statement is accepted by MySQL 8 and MariaDB 10.11 (no CREATE OR REPLACE, no IF NOT EXISTS
 * on columns or indexes). DDL commits implicitly, so statements are written to be safe to re-run
 * after a crash half-way (CREATE TABLE IF NOT EXISTS, INSERT IGNORE of fixed rows).
 *
 * Identifiers: `cursor` is a reserved word in both servers and is always quoted.
 */
export interface Migration {
  version: string;
  statements: (ctx: { now: Date }) => string[];
}

const TABLE = 'ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci';

export const MIGRATIONS: Migration[] = [
  {
    version: '0001_hosts_checkpoints',
    statements: () => [
      `CREATE TABLE IF NOT EXISTS hosts (
        id INT UNSIGNED NOT NULL AUTO_INCREMENT,
        name VARCHAR(255) NOT NULL,
        agent_url VARCHAR(2048) NOT NULL,
        enabled TINYINT(1) NOT NULL DEFAULT 1,
        created_at DATETIME(6) NOT NULL,
        updated_at DATETIME(6) NOT NULL,
        PRIMARY KEY (id),
        UNIQUE KEY uq_hosts_name (name)
      ) ${TABLE}`,
      // One row per host, created with the host (cursor NULL until its first batch), so ingest can
      // lock it. The position next to the cursor lets ingest detect a gap between two batches.
      `CREATE TABLE IF NOT EXISTS checkpoints (
        host_id INT UNSIGNED NOT NULL,
        \`cursor\` VARCHAR(512) NULL,
        seqnum_id BINARY(16) NULL,
        seqnum BIGINT UNSIGNED NULL,
        ts DATETIME(6) NULL,
        updated_at DATETIME(6) NOT NULL,
        PRIMARY KEY (host_id),
        CONSTRAINT fk_checkpoints_host FOREIGN KEY (host_id) REFERENCES hosts (id) ON DELETE CASCADE
      ) ${TABLE}`,
    ],
  },
  {
    version: '0002_logs',
    // The primary key is the entry's identity (with ts, which every unique key of a partitioned
    // table must contain); ordered host, seqnum_id, seqnum so a host's new entries append.
    // No foreign key: partitioned InnoDB tables cannot have one.
    statements: ({ now }) => [
      `CREATE TABLE IF NOT EXISTS logs (
        host_id INT UNSIGNED NOT NULL,
        ts DATETIME(6) NOT NULL,
        boot_id BINARY(16) NOT NULL,
        seqnum_id BINARY(16) NOT NULL,
        seqnum BIGINT UNSIGNED NOT NULL,
        priority TINYINT UNSIGNED NULL,
        hostname VARCHAR(255) NULL,
        comm VARCHAR(64) NULL,
        pid INT UNSIGNED NULL,
        syslog_identifier VARCHAR(255) NULL,
        unit VARCHAR(255) NULL,
        \`cursor\` VARCHAR(512) NOT NULL,
        message MEDIUMTEXT NULL,
        message_raw MEDIUMBLOB NULL,
        PRIMARY KEY (host_id, seqnum_id, seqnum, boot_id, ts),
        KEY ix_logs_host_ts (host_id, ts),
        KEY ix_logs_host_priority_ts (host_id, priority, ts),
        KEY ix_logs_host_unit_ts (host_id, unit, ts),
        KEY ix_logs_priority_ts (priority, ts)
      ) ${TABLE}
      ${initialPartitionClause(now, 7, 7)}`,
    ],
  },
  {
    version: '0003_rollups_gaps',
    statements: () => [
      // Dashboard counts without scanning logs; priority 255 = entry without PRIORITY.
      `CREATE TABLE IF NOT EXISTS log_counts_hourly (
        host_id INT UNSIGNED NOT NULL,
        hour DATETIME NOT NULL,
        priority TINYINT UNSIGNED NOT NULL,
        n BIGINT UNSIGNED NOT NULL,
        PRIMARY KEY (host_id, hour, priority),
        KEY ix_counts_hour (hour, priority)
      ) ${TABLE}`,
      `CREATE TABLE IF NOT EXISTS gaps (
        id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
        host_id INT UNSIGNED NOT NULL,
        seqnum_id BINARY(16) NOT NULL,
        boot_id BINARY(16) NOT NULL,
        after_seqnum BIGINT UNSIGNED NOT NULL,
        before_seqnum BIGINT UNSIGNED NOT NULL,
        missing BIGINT UNSIGNED NOT NULL,
        after_ts DATETIME(6) NULL,
        before_ts DATETIME(6) NOT NULL,
        detected_at DATETIME(6) NOT NULL,
        PRIMARY KEY (id),
        UNIQUE KEY uq_gaps_position (host_id, seqnum_id, after_seqnum),
        KEY ix_gaps_host_before (host_id, before_ts),
        KEY ix_gaps_before (before_ts),
        CONSTRAINT fk_gaps_host FOREIGN KEY (host_id) REFERENCES hosts (id) ON DELETE CASCADE
      ) ${TABLE}`,
    ],
  },
  {
    version: '0004_runs',
    statements: () => [
      `CREATE TABLE IF NOT EXISTS runs (
        id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
        triggered_by VARCHAR(64) NOT NULL,
        status VARCHAR(16) NOT NULL,
        lease_ms INT UNSIGNED NOT NULL,
        started_at DATETIME(6) NOT NULL,
        finished_at DATETIME(6) NULL,
        PRIMARY KEY (id),
        KEY ix_runs_started (started_at)
      ) ${TABLE}`,
      `CREATE TABLE IF NOT EXISTS run_hosts (
        run_id BIGINT UNSIGNED NOT NULL,
        host VARCHAR(255) NOT NULL,
        status VARCHAR(16) NOT NULL,
        fetched BIGINT UNSIGNED NOT NULL DEFAULT 0,
        inserted BIGINT UNSIGNED NOT NULL DEFAULT 0,
        duplicates BIGINT UNSIGNED NOT NULL DEFAULT 0,
        \`cursor\` VARCHAR(512) NULL,
        error_message TEXT NULL,
        finished_at DATETIME(6) NULL,
        PRIMARY KEY (run_id, host),
        CONSTRAINT fk_run_hosts_run FOREIGN KEY (run_id) REFERENCES runs (id) ON DELETE CASCADE
      ) ${TABLE}`,
      // One row per kind of run: holding it (with an unexpired lease) means a run is active.
      `CREATE TABLE IF NOT EXISTS run_lease (
        name VARCHAR(32) NOT NULL,
        run_id BIGINT UNSIGNED NULL,
        expires_at DATETIME(6) NULL,
        PRIMARY KEY (name)
      ) ${TABLE}`,
      `INSERT IGNORE INTO run_lease (name) VALUES ('collect')`,
    ],
  },
  {
    // The VM's stable identity and the journald transport, typed as ENTRY_FIELDS says. A crash
    // between the two statements cannot happen: ALTER TABLE adds both columns at once.
    version: '0005_logs_machine_transport',
    statements: () => [`ALTER TABLE logs ${addColumnsSql(['machineId', 'transport'])}`],
  },
  // collect's mutual exclusion is a run lock (lease is Vault's word), and where a host's run ended
  // is its checkpoint. One statement per migration, so a crash between them re-runs none twice.
  // RENAME COLUMN: MySQL 8.0 and MariaDB 10.5+.
  { version: '0006_run_lock', statements: () => ['RENAME TABLE run_lease TO run_lock'] },
  { version: '0007_runs_lock_ms', statements: () => ['ALTER TABLE runs RENAME COLUMN lease_ms TO lock_ms'] },
  {
    // A host's run result as one shape (core's hostResultSchema): its batches and its error's code.
    version: '0008_run_hosts_result',
    statements: () => [
      `ALTER TABLE run_hosts RENAME COLUMN \`cursor\` TO \`checkpoint\`,
         ADD COLUMN batches BIGINT UNSIGNED NOT NULL DEFAULT 0 AFTER duplicates,
         ADD COLUMN error_code VARCHAR(64) NULL AFTER \`checkpoint\``,
    ],
  },
  {
    version: '0009_hosts_tls',
    // How fetch-host reaches a host's agent: `insecure` allows a plain http:// URL (refused
    // otherwise); `agent_ca` is a CA bundle (PEM) for this host's agent only, in place of the one
    // fetch-host trusts for every agent. One ALTER, so a crash leaves it done or not done.
    statements: () => [
      `ALTER TABLE hosts
        ADD COLUMN insecure TINYINT(1) NOT NULL DEFAULT 0,
        ADD COLUMN agent_ca TEXT NULL`,
    ],
  },
  {
    version: '0010_dashboard_rollups',
    statements: () => [
      // Top identifiers, comms and units per severity without scanning logs (see rollups.ts);
      // values compare as bytes so two spellings never merge. field: 1 identifier, 2 comm, 3 unit.
      `CREATE TABLE IF NOT EXISTS log_field_counts_hourly (
        field TINYINT UNSIGNED NOT NULL,
        hour DATETIME NOT NULL,
        host_id INT UNSIGNED NOT NULL,
        value VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
        priority TINYINT UNSIGNED NOT NULL,
        n BIGINT UNSIGNED NOT NULL,
        PRIMARY KEY (field, hour, host_id, value, priority),
        KEY ix_field_counts_value (field, value, hour)
      ) ${TABLE}`,
      // The same per day: a top list over a week reads 7 days × hosts × values × levels rows here
      // (plus the partial days from the hourly table) instead of 168 hours' worth.
      `CREATE TABLE IF NOT EXISTS log_field_counts_daily (
        field TINYINT UNSIGNED NOT NULL,
        day DATE NOT NULL,
        host_id INT UNSIGNED NOT NULL,
        value VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
        priority TINYINT UNSIGNED NOT NULL,
        n BIGINT UNSIGNED NOT NULL,
        PRIMARY KEY (field, day, host_id, value, priority)
      ) ${TABLE}`,
      // Per host: the newest stored entry (not the checkpoint's, whose entry may be older) and the
      // heartbeat: when ingest last committed for it, in the primary's clock. The dashboard reads
      // it on the replica; now − the newest beat bounds the replica's lag without SHOW REPLICA STATUS.
      `CREATE TABLE IF NOT EXISTS host_activity (
        host_id INT UNSIGNED NOT NULL,
        newest_ts DATETIME(6) NULL,
        beat_at DATETIME(6) NOT NULL,
        PRIMARY KEY (host_id),
        CONSTRAINT fk_host_activity_host FOREIGN KEY (host_id) REFERENCES hosts (id) ON DELETE CASCADE
      ) ${TABLE}`,
      // Hosts with stored entries before this migration: a loose index scan of ix_logs_host_ts.
      `INSERT IGNORE INTO host_activity (host_id, newest_ts, beat_at)
        SELECT host_id, MAX(ts), UTC_TIMESTAMP(6) FROM logs GROUP BY host_id`,
      // Entries of one identifier, newest first, as ix_logs_host_unit_ts serves a unit. Last, as the
      // one statement that cannot be repeated (MySQL 8 has no ADD INDEX IF NOT EXISTS).
      `ALTER TABLE logs ADD INDEX ix_logs_host_ident_ts (host_id, syslog_identifier, ts)`,
    ],
  },
  {
    // Why a run ended as it did when not by itself: handed back on SIGTERM, or its collect stopped
    // renewing the run lock (killed, or the primary stayed away past its retries).
    version: '0011_runs_reason',
    statements: () => ['ALTER TABLE runs ADD COLUMN reason VARCHAR(255) NULL AFTER finished_at'],
  },
  {
    // Each secondary index of logs costs both servers CPU on every stored entry (measured in
    // docs/store.md). The fleet's entries of a level are walked per host in
    // ix_logs_host_priority_ts instead, as a unit's and an identifier's are. Not repeatable (MySQL 8
    // has no DROP INDEX IF EXISTS); older dashboards force this index (deploy/README.md § 10).
    version: '0012_logs_drop_priority_ts',
    statements: () => ['ALTER TABLE logs DROP INDEX ix_logs_priority_ts'],
  },
];

/**
 * Applies the migrations not yet recorded, in order, in the connection's current database, under a
 * named lock so two processes never migrate at once. Then makes sure the day partitions exist.
 */
export async function migrate(
  db: Queryable,
  options: { log?: Logger; now?: Date; migrations?: Migration[] } = {},
): Promise<{ applied: string[] }> {
  const now = options.now ?? new Date();
  const migrations = options.migrations ?? MIGRATIONS;
  const applied = await withNamedLock(db, 'migrate', 120, async (conn, database) => {
    await execute(
      conn,
      `CREATE TABLE IF NOT EXISTS schema_migrations (
        version VARCHAR(64) NOT NULL,
        applied_at DATETIME(6) NOT NULL,
        PRIMARY KEY (version)
      ) ${TABLE}`,
    );
    const done = new Set(
      (await select<{ version: string }>(conn, 'SELECT version FROM schema_migrations')).map(
        (r) => r.version,
      ),
    );
    const out: string[] = [];
    for (const m of migrations) {
      if (done.has(m.version)) continue;
      for (const sql of m.statements({ now })) await execute(conn, sql);
      await execute(
        conn,
        'INSERT INTO schema_migrations (version, applied_at) VALUES (?, UTC_TIMESTAMP(6))',
        [m.version],
      );
      options.log?.info('store.migration_applied', { database, version: m.version });
      out.push(m.version);
    }
    return out;
  });
  if (migrations.some((m) => m.version === '0002_logs')) await ensurePartitions(db, { now });
  return { applied };
}
