import type { ChildProcess } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { createLogger, Metrics, startMetricsServer, type Logger, type MetricsServer } from '@infralogs/core';
import { AGENT_DEFAULTS, type AgentConfig } from './config';
import { onPath, stopJournalctl } from './journalctl';
import { createAgentServer } from './server';
import { TLS_CHECK_MS, TlsFiles } from './tls';
import { TokenFile } from './tokens';

export { agentConfigFromEnv, agentEnvSchema, AGENT_DEFAULTS, type AgentConfig } from './config';
export { parseLogsQuery, type LogsQuery } from './query';
export { TLS_CHECK_MS, type TlsFilesConfig } from './tls';

export interface RunningAgent {
  /** Base URL, e.g. https://127.0.0.2:8687 (http:// without TLS files) */
  url: string;
  /** `http://host:port/metrics`, or null when no metrics port is configured. */
  metricsUrl: string | null;
  /** The agent's own registry (one per agent, so agents in one process stay apart). */
  metrics: Metrics;
  close(): Promise<void>;
}

/**
 * Starts an agent: reads the token file and the TLS files (unreadable → CONFIG_INVALID), listens,
 * and serves until `close()`, which stops listening, kills running journalctl children and drops
 * open streams. With TLS, the certificate files are looked at every TLS_CHECK_MS and a changed
 * pair is used for new connections.
 */
export async function startAgent(
  options: Partial<AgentConfig> & Pick<AgentConfig, 'tokensFile'>,
  log: Logger = createLogger({ component: 'agent' }),
): Promise<RunningAgent> {
  const config: AgentConfig = { ...AGENT_DEFAULTS, ...options };
  if (config.journalctlBuffer !== null && !onPath('stdbuf')) {
    log.warn('agent.no_stdbuf', { effect: 'journalctl runs with its default 4 KiB stdout buffer' });
    config.journalctlBuffer = null;
  }
  const tokens = new TokenFile(config.tokensFile, log);
  await tokens.load();
  const children = new Set<ChildProcess>();
  const metrics = new Metrics({ parts: ['agent', 'http'] });
  const tlsFiles = config.tls ? new TlsFiles(config.tls, log) : null;
  const tls = tlsFiles
    ? { ...(await tlsFiles.load()), requireClientCert: config.tls!.clientCaFile !== null }
    : null;
  const server = createAgentServer({ config, tokens, log, children, metrics }, tls);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  const url = `${tls ? 'https' : 'http'}://${host}:${port}`;
  let metricsServer: MetricsServer | null = null;
  try {
    if (config.metricsPort !== null) {
      metricsServer = await startMetricsServer(metrics, {
        host: config.metricsHost,
        port: config.metricsPort,
      });
    }
  } catch (err) {
    server.close();
    throw err;
  }
  log.info('agent.listening', {
    url,
    journalDir: config.journalDir ?? '(system journal)',
    clientCertificates: tls?.requireClientCert ?? false,
    metrics: metricsServer?.url ?? null,
  });
  let checking = false;
  const tlsWatch =
    tlsFiles &&
    setInterval(() => {
      if (checking) return;
      checking = true;
      void tlsFiles
        .changed()
        .then((options) => {
          if (options && 'setSecureContext' in server) server.setSecureContext(options);
        })
        .finally(() => (checking = false));
    }, TLS_CHECK_MS);
  tlsWatch?.unref();
  return {
    url,
    metricsUrl: metricsServer?.url ?? null,
    metrics,
    async close() {
      if (tlsWatch) clearInterval(tlsWatch);
      await metricsServer?.close();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const child of children) stopJournalctl(child);
      server.closeAllConnections();
      await closed;
      log.info('agent.closed', {});
    },
  };
}
