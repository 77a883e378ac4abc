/**
 * Runs the wrapper outside a container, with tsx: `HANDLER=<handler file or function folder>`.
 * The local gateway starts one of these per function, as of-watchdog starts `node index.js` in the
 * image, so every function has its own process and its own environment.
 */
import { createLogger } from '@infralogs/core';
import { main } from './index';

main().catch((err: unknown) => {
  createLogger({ component: 'node22-ts' }).error('wrapper.failed', { error: err });
  process.exit(1);
});
