import { relative } from 'node:path';
import { repoRoot } from '@infralogs/devkit';
import type { LocalStack } from './index';

const shown = (path: string) => (path.startsWith(repoRoot) ? relative(repoRoot, path) : path);

/**
 * What `npm start` prints on stdout once the stack is up: where everything is and how to use it.
 * No MySQL password: functions lease short-lived users from OpenBao, and this local OpenBao's root
 * token stays in its 0600 file in the state directory. Shown once: the dashboard user's password
 * (made for this run; the function holds only its scrypt hash).
 */
export function stackBanner(stack: LocalStack): string {
  const { primary, replica } = stack.topology;
  const curl =
    `curl -sS -X POST -H "Authorization: Bearer $(cat ${shown(stack.collectTokenFile)})" ` +
    `-H 'Content-Type: application/json' -d '{}' ${stack.gatewayUrl}/function/collect`;
  return [
    'Infralogs local stack is up.',
    `  dashboard   ${stack.dashboardUrl}`,
    `  login       user ${stack.dashboardLogin.user}   password ${stack.dashboardLogin.password}   (made for this run, shown once)`,
    `  gateway     ${stack.gatewayUrl}   (OpenFaaS routes: /function/NAME, /async-function/NAME)`,
    ...stack.hosts.map(
      (h) =>
        `  host        ${h.name.padEnd(10)} agent ${h.agentUrl}   ` +
        (h.certFile
          ? `journal ${h.journalDir ? shown(h.journalDir) : "this machine's own"}`
          : 'from the inventory'),
    ),
    '              every agent is reached over TLS; certificates come from OpenBao PKI',
    `  collect     ${curl}`,
    `  Prometheus  ${stack.prometheus.url}   (scrapes every agent and function; alerts: ${stack.prometheus.url}/alerts)`,
    stack.schedule ? `  schedule    collect also runs on "${stack.schedule}" (UTC, stack.yml)` : '',
    `  MariaDB     primary ${primary.host}:${primary.port}, replica ${replica.host}:${replica.port}, database ${stack.database}`,
    '              functions use short-lived users leased from OpenBao; no password is printed',
    `  OpenBao     ${stack.vault.addr}   root token in ${shown(stack.vault.rootTokenFile)} (local server only)`,
    `  hosts       set -a; . ${shown(stack.hostsEnvFile)}; set +a; npm run hosts -- list`,
    `  logs        ${shown(stack.logDir)}/`,
    `  stop        Ctrl-C or SIGTERM stops everything; the data stays in ${shown(stack.stateDir)}`,
    '              (npm start resumes from it; npm start -- --fresh starts over)',
  ]
    .filter(Boolean)
    .join('\n');
}
