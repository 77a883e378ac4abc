import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  dropPartitionsOlderThan,
  ensurePartitions,
  initialPartitionClause,
  listPartitions,
  partitionDay,
  partitionName,
  planNewPartitions,
  planRetention,
} from '../../src/store/partitions';
import { ingestBatch } from '../../src/store/ingest';
import { upsertHost } from '../../src/store/hosts';
import { migrate } from '../../src/store/migrations';
import { LOGS_COLUMNS } from '../../src/store/rows';
import { ENTRY_FIELDS } from '../../src/entry';
import { createStorePool } from '../../src/store/sql';
import { createLogger } from '../../src/log';
import { entry, freshStore } from '@infralogs/devkit/fixtures';

const day = (s: string) => new Date(`${s}T00:00:00Z`);
const at = (s: string) => new Date(`${s}Z`);

describe('partition naming and plans', () => {
  it('names a UTC day and reads it back, rejecting other names', () => {
    expect(partitionName(at('2026-11-30T23:59:59'))).toBe('p20261130');
    expect(partitionDay('p20261130')).toEqual(day('2026-11-30'));
    expect(partitionDay('pmax')).toBeNull();
    expect(partitionDay('p20261332')).toBeNull();
  });
  it('builds a clause from daysBack to daysAhead plus pmax', () => {
    const clause = initialPartitionClause(at('2026-11-30T10:00:00'), 1, 1);
    expect(clause).toContain("PARTITION p20261129 VALUES LESS THAN (TO_DAYS('2026-11-30'))");
    expect(clause).toContain("PARTITION p20261201 VALUES LESS THAN (TO_DAYS('2026-12-02'))");
    expect(clause).toContain('PARTITION pmax VALUES LESS THAN MAXVALUE');
  });
  it('plans the missing days after the newest partition', () => {
    const plan = planNewPartitions(['p20261128', 'p20261129', 'pmax'], at('2026-11-30T10:00:00'), 2);
    expect(plan.map(partitionName)).toEqual(['p20261130', 'p20261201', 'p20261202']);
    expect(planNewPartitions(['p20261210', 'pmax'], at('2026-11-30T10:00:00'), 2)).toEqual([]);
  });
  it('plans retention of whole days older than N days, never pmax', () => {
    const names = ['p20261127', 'p20261128', 'p20261129', 'p20261130', 'pmax'];
    expect(planRetention(names, at('2026-11-30T10:00:00'), 2)).toEqual(['p20261127']);
    expect(planRetention(names, at('2026-11-30T10:00:00'), 1)).toEqual(['p20261127', 'p20261128']);
  });
});

describe('partitions on the server', () => {
  let store: Awaited<ReturnType<typeof freshStore>>;
  const now = at('2026-11-30T10:00:00');
  beforeAll(async () => {
    store = await freshStore({ now });
    await upsertHost(store.pool, { name: 'h', agentUrl: 'http://127.0.0.1:9/' });
  });
  afterAll(async () => store?.drop());

  it('migrate creates day partitions 7 days back and ahead, and ensurePartitions extends them', async () => {
    const names = await listPartitions(store.pool);
    expect(names[0]).toBe('p20261123');
    expect(names.at(-2)).toBe('p20261207');
    expect(names.at(-1)).toBe('pmax');
    expect(await ensurePartitions(store.pool, { now, daysAhead: 7 })).toEqual([]);
    const added = await ensurePartitions(store.pool, { now: at('2026-12-02T00:00:00'), daysAhead: 7 });
    expect(added).toEqual(['p20261208', 'p20261209']);
  });

  it('keeps entries far in the past and future, and retention drops only whole old partitions', async () => {
    const stamps = {
      ancient: Date.UTC(1971, 0, 1) * 1000,
      old: Date.UTC(2026, 10, 24, 5) * 1000,
      recent: Date.UTC(2026, 10, 29, 5) * 1000,
      future: Date.UTC(2030, 0, 1) * 1000,
    };
    const batch = Object.values(stamps).map((realtimeUs, i) => entry(i + 1, { realtimeUs }));
    expect(await ingestBatch(store.pool, { host: 'h', entries: batch }, { now })).toMatchObject({
      inserted: 4,
    });
    const where = async () => {
      const c = await store.admin();
      const [rows] = await c.query(
        `SELECT PARTITION_NAME AS p, TABLE_ROWS AS n FROM information_schema.PARTITIONS
          WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'logs'`,
      );
      const [logs] = await c.query('SELECT seqnum FROM logs ORDER BY seqnum');
      await c.end();
      return {
        parts: (rows as { p: string }[]).map((r) => r.p),
        seqnums: (logs as { seqnum: number }[]).map((r) => r.seqnum),
      };
    };
    expect((await where()).seqnums).toEqual([1, 2, 3, 4]);

    const dropped = await dropPartitionsOlderThan(store.pool, { days: 3, now });
    // Days before 2026-11-27 go: the ancient entry (held by the oldest partition) and 11-24 with them.
    expect(dropped).toEqual(['p20261123', 'p20261124', 'p20261125', 'p20261126']);
    const after = await where();
    expect(after.seqnums).toEqual([3, 4]);
    expect(after.parts[0]).toBe('p20261127');
    expect(after.parts).toContain('pmax');
    expect(await dropPartitionsOlderThan(store.pool, { days: 3, now })).toEqual([]);
    const c = await store.admin();
    const [counts] = await c.query('SELECT MIN(hour) AS h FROM log_counts_hourly');
    await c.end();
    expect((counts as { h: string }[])[0]!.h).toBe('2026-11-29 05:00:00');
  });

  it('still ingests, into pmax, when the writer may not add partitions', async () => {
    const user = `w_${store.name}`.slice(0, 32);
    const c = await store.admin();
    await c.query(`CREATE USER '${user}'@'%' IDENTIFIED BY 'writer-pw'`);
    await c.query(`GRANT SELECT, INSERT, UPDATE ON ${store.name}.* TO '${user}'@'%'`);
    const writer = createStorePool({
      host: store.infra.mysql.primary.host,
      port: store.infra.mysql.primary.port,
      user,
      password: 'writer-pw',
      database: store.name,
    });
    const warnings: string[] = [];
    const log = createLogger({}, { write: (line) => warnings.push(line) });
    try {
      const later = at('2026-12-20T10:00:00');
      const r = await ingestBatch(
        writer,
        { host: 'h', entries: [entry(100, { realtimeUs: later.getTime() * 1000 })] },
        { now: later, log },
      );
      expect(r.inserted).toBe(1);
      expect(warnings.join('\n')).toContain('store.partitions_not_added');
      const [rows] = await c.query(`SELECT COUNT(*) AS n FROM logs PARTITION (pmax) WHERE seqnum = 100`);
      expect(Number((rows as { n: number }[])[0]!.n)).toBe(1);
    } finally {
      await writer.end();
      await c.query(`DROP USER '${user}'@'%'`);
      await c.end();
    }
  });

  it('refuses a retention of less than one day', async () => {
    await expect(dropPartitionsOlderThan(store.pool, { days: 0 })).rejects.toMatchObject({
      code: 'BAD_REQUEST',
    });
  });
});

describe('migrate', () => {
  it('applies every migration once, in order, and nothing on a second run', async () => {
    const store = await freshStore({ migrate: false });
    try {
      const first = await migrate(store.pool);
      expect(first.applied).toEqual([
        '0001_hosts_checkpoints',
        '0002_logs',
        '0003_rollups_gaps',
        '0004_runs',
        '0005_logs_machine_transport',
        '0006_run_lock',
        '0007_runs_lock_ms',
        '0008_run_hosts_result',
        '0009_hosts_tls',
        '0010_dashboard_rollups',
        '0011_runs_reason',
        '0012_logs_drop_priority_ts',
      ]);
      expect(await migrate(store.pool)).toEqual({ applied: [] });
      const c = await store.admin();
      const [tables] = await c.query('SHOW TABLES');
      await c.end();
      expect((tables as Record<string, string>[]).map((t) => Object.values(t)[0]).sort()).toEqual([
        'checkpoints',
        'gaps',
        'host_activity',
        'hosts',
        'log_counts_hourly',
        'log_field_counts_daily',
        'log_field_counts_hourly',
        'logs',
        'run_hosts',
        'run_lock',
        'runs',
        'schema_migrations',
      ]);
    } finally {
      await store.drop();
    }
  });

  it('gives logs exactly the columns of ENTRY_FIELDS, typed as the table says', async () => {
    const store = await freshStore();
    try {
      const c = await store.admin();
      const [rows] = await c.query(
        `SELECT COLUMN_NAME AS name, COLUMN_TYPE AS type, IS_NULLABLE AS nullable
           FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'logs'
          ORDER BY ORDINAL_POSITION`,
      );
      await c.end();
      const columns = rows as { name: string; type: string; nullable: 'YES' | 'NO' }[];
      // As information_schema spells a declared type: lowercase, MariaDB without display widths.
      const declared = (sql: string) => ({
        type: sql
          .replace(/ (NOT )?NULL$/, '')
          .toLowerCase()
          .replace(/^(int|tinyint|bigint)\((\d+)\)/, '$1'),
        nullable: sql.endsWith('NOT NULL') ? 'NO' : 'YES',
      });
      const actual = (t: { type: string; nullable: string }) => ({
        type: t.type.replace(/^(int|tinyint|bigint)\((\d+)\)/, '$1'),
        nullable: t.nullable,
      });
      expect(columns.map((col) => col.name).sort()).toEqual(LOGS_COLUMNS.slice().sort());
      for (const f of ENTRY_FIELDS) {
        const col = columns.find((x) => x.name === f.column)!;
        expect(actual(col), f.column).toEqual(declared(f.sql));
      }
    } finally {
      await store.drop();
    }
  });

  it('gives logs the identity and four secondary indexes, each leading with host_id', async () => {
    const store = await freshStore();
    try {
      const c = await store.admin();
      const [rows] = await c.query(
        `SELECT INDEX_NAME AS name, GROUP_CONCAT(COLUMN_NAME ORDER BY SEQ_IN_INDEX) AS columns
           FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'logs'
          GROUP BY INDEX_NAME ORDER BY INDEX_NAME`,
      );
      await c.end();
      // Every index costs both servers CPU on each stored entry (docs/store.md): a new one is a choice.
      expect(rows).toEqual([
        { name: 'ix_logs_host_ident_ts', columns: 'host_id,syslog_identifier,ts' },
        { name: 'ix_logs_host_priority_ts', columns: 'host_id,priority,ts' },
        { name: 'ix_logs_host_ts', columns: 'host_id,ts' },
        { name: 'ix_logs_host_unit_ts', columns: 'host_id,unit,ts' },
        { name: 'PRIMARY', columns: 'host_id,seqnum_id,seqnum,boot_id,ts' },
      ]);
    } finally {
      await store.drop();
    }
  });

  it('refuses to run without a current database', async () => {
    const store = await freshStore({ migrate: false });
    const noDb = createStorePool({
      host: store.infra.mysql.primary.host,
      port: store.infra.mysql.primary.port,
      user: store.infra.mysql.admin.user,
      password: store.infra.mysql.admin.password,
    });
    try {
      await expect(migrate(noDb)).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
    } finally {
      await noDb.end();
      await store.drop();
    }
  });
});
