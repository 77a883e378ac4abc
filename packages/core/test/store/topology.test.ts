import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { gtidBehind, startTopology } from '@infralogs/devkit';

describe('gtidBehind', () => {
  it('counts missing transactions per GTID domain', () => {
    expect(gtidBehind('0-1-120', '0-1-100')).toBe(20);
    expect(gtidBehind('0-1-120,1-1-5', '0-1-120')).toBe(5);
    expect(gtidBehind('0-1-100', '0-1-100')).toBe(0);
    expect(gtidBehind('', '')).toBe(0);
  });
});

describe('a private topology (devkit startTopology)', () => {
  it('reports replica lag in transactions while replication is stopped, catches up, and stops cleanly', async () => {
    const topo = await startTopology();
    const dataDir = topo.primary.dataDir;
    try {
      const p = await topo.connect('primary');
      await p.query('CREATE DATABASE lag_probe');
      const r = await topo.connect('replica');
      await topo.waitForReplica();
      await r.query('STOP SLAVE SQL_THREAD');
      for (let i = 0; i < 3; i++) await p.query(`CREATE TABLE lag_probe.t${i} (id INT PRIMARY KEY)`);
      await p.end();
      const behind = await topo.replicaStatus();
      expect(behind).toMatchObject({ sqlRunning: false, transactionsBehind: 3, secondsBehind: null });
      await r.query('START SLAVE SQL_THREAD');
      await r.end();
      await topo.waitForReplica();
      expect(await topo.replicaStatus()).toMatchObject({
        ioRunning: true,
        sqlRunning: true,
        transactionsBehind: 0,
        lastError: null,
      });
      expect(await topo.replicaLagSeconds()).toBe(0);
    } finally {
      await topo.stop();
      await topo.stop();
    }
    expect(existsSync(dataDir)).toBe(false);
  });
});
