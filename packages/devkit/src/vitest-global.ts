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
  [topology, bao] = await Promise.all([startTopology(), startOpenBao()]);
  project.provide('infra', {
    mysql: {
      primary: { host: topology.primary.host, port: topology.primary.port },
      replica: { host: topology.replica.host, port: topology.replica.port },
      admin: topology.admin,
    },
    vault: { addr: bao.addr, rootToken: bao.rootToken },
  });
}

export async function teardown() {
  await Promise.all([topology?.stop(), bao?.stop()]);
}
