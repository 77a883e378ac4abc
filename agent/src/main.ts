import { createLogger, errorBody } from '@infralogs/core';
import { agentConfigFromEnv, startAgent } from './index';

/** The agent process: configuration from the environment, graceful stop on SIGTERM/SIGINT. */
const log = createLogger({ component: 'agent' });
try {
  const agent = await startAgent(agentConfigFromEnv(), log);
  const stop = (signal: string) => {
    log.info('agent.stopping', { signal });
    agent.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
} catch (err) {
  log.error('agent.start_failed', { error: errorBody(err).body.error, cause: err });
  process.exit(1);
}
