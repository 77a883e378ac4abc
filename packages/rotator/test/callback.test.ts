import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import mysql from 'mysql2/promise';
import { waitFor } from '@infralogs/devkit';
import { ConsumerFailedError, createCallbackRotator, silentLogger, type DatabaseCredentials } from '../src';
import { connectError, setupEngine, type Engine } from './helpers';

const infra = inject('infra');

describe('callback adapter', () => {
  let engine: Engine;
  beforeAll(async () => {
    engine = await setupEngine(infra, { ttl: '1m', maxTtl: '5m' });
  });
  afterAll(() => engine?.cleanup());

  it('hands each set of credentials to the callback, drains the old set before revoking it, and keeps it when the next is refused', async () => {
    const p = infra.mysql.primary;
    const order: string[] = [];
    const given: DatabaseCredentials[] = [];
    let refuse = false;
    let current: mysql.Connection | undefined;
    const rotator = createCallbackRotator({
      vault: { addr: infra.vault.addr, auth: { method: 'token', token: infra.vault.rootToken } },
      credentialsPath: engine.credentialsPath,
      logger: silentLogger,
      retry: { initialMs: 100, maxMs: 1000 },
      target: 'the test consumer',
      onEvent: (e) => {
        if (e.type === 'revoked') order.push(`revoked ${e.leaseId}`);
      },
      // The documented shape: prove the credentials work, swap, and return how to retire them.
      async onCredentials(credentials, lease) {
        given.push(credentials);
        if (refuse) throw new Error('not now');
        const conn = await mysql.createConnection({ host: p.host, port: p.port, ...userOf(credentials) });
        await conn.ping();
        current = conn;
        order.push(`swapped ${lease.leaseId}`);
        return async () => {
          order.push(`drained ${lease.leaseId}`);
          await conn.end();
        };
      },
    });
    await rotator.start();
    const first = rotator.lease()!;
    const second = await rotator.rotateNow();
    await waitFor(
      'the first lease to be revoked',
      async () => order.includes(`revoked ${first.leaseId}`),
      10_000,
    );
    expect(order.slice(0, 4)).toEqual([
      `swapped ${first.leaseId}`,
      `swapped ${second.leaseId}`,
      `drained ${first.leaseId}`,
      `revoked ${first.leaseId}`,
    ]);
    expect(await connectError(infra, 'primary', given[0]!.username, given[0]!.password)).toMatchObject({
      errno: 1045,
    });

    refuse = true;
    const err = await rotator.rotateNow().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConsumerFailedError);
    expect(err).toMatchObject({ code: 'CONSUMER_FAILED' });
    expect(rotator.lease()!.leaseId).toBe(second.leaseId);
    const refused = given[2]!;
    await waitFor(
      'the refused lease to be revoked',
      async () => (await connectError(infra, 'primary', refused.username, refused.password))?.errno === 1045,
      10_000,
    );
    // The credentials in use were not touched.
    const [rows] = await current!.query('SELECT CURRENT_USER() AS u');
    expect((rows as { u: string }[])[0]?.u).toBe(`${second.username}@%`);
    expect(await connectError(infra, 'primary', given[1]!.username, given[1]!.password)).toBeUndefined();

    await rotator.stop();
    // (The refused lease's revocation is reported in the background, so it may come in between.)
    const ofSecond = order.filter((e) => e.endsWith(` ${second.leaseId}`));
    expect(ofSecond).toEqual([
      `swapped ${second.leaseId}`,
      `drained ${second.leaseId}`,
      `revoked ${second.leaseId}`,
    ]);
  });
});

function userOf(c: DatabaseCredentials) {
  return { user: c.username, password: c.password };
}
