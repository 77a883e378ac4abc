import type { TestProject } from 'vitest/node';
import { startOpenBao, type OpenBao } from './openbao';
import { startTopology, type Topology } from './mariadb';

/**
 * Vitest global set-up: one real MariaDB primary + replica and one real OpenBao dev server for the
 * whole run, shared by every test file (each file works in databases/mounts of its own), stopped
 * and deleted at the end. Tests read the addresses with `inject('infra')`.
 */
export interface InfraInfo {
  mysql: {
    primary: { host: string; port: number };
    replica: { host: string; port: number };
    admin: { user: string; password: string };
  };
  vault: { addr: string; rootToken: string };
}

declare module 'vitest' {
  export interface ProvidedContext {
    infra: InfraInfo;
  }
}

let topology: Topology | undefined;
let bao: OpenBao | undefined;

export async function setup(project: TestProject) {
  const [db, vault] = await Promise.allSettled([startTopology(), startOpenBao()]);
  if (db.status === 'fulfilled') topology = db.value;
  if (vault.status === 'fulfilled') bao = vault.value;
  if (db.status === 'rejected' || vault.status === 'rejected') {
    const failures: [string, unknown][] = [];
    if (db.status === 'rejected') failures.push(['MariaDB primary+replica', db.reason]);
    if (vault.status === 'rejected') failures.push(['OpenBao', vault.reason]);
    // Stop whichever did start: otherwise it runs until exit and leaves its data folder behind.
    await teardown().catch((err: unknown) => failures.push(['stopping the one that started', err]));
    const why = failures.map(([what, err]) => `${what}: ${err instanceof Error ? err.message : String(err)}`);
    throw new Error(`test infrastructure did not start (did scripts/setup.sh run?): ${why.join('; ')}`, {
      cause: failures.length === 1 ? failures[0]![1] : new AggregateError(failures.map(([, err]) => err)),
    });
  }
  project.provide('infra', {
    mysql: {
      primary: { host: db.value.primary.host, port: db.value.primary.port },
      replica: { host: db.value.replica.host, port: db.value.replica.port },
      admin: db.value.admin,
    },
    vault: { addr: vault.value.addr, rootToken: vault.value.rootToken },
  });
}

/** Stops both servers (each once); one failing to stop does not keep the other running. */
export async function teardown() {
  const running = [topology, bao];
  topology = undefined;
  bao = undefined;
  const results = await Promise.allSettled(running.map((s) => s?.stop()));
  const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed.length > 0)
    throw new AggregateError(
      failed.map((r) => r.reason),
      'stopping the test servers failed',
    );
}
