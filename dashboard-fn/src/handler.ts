import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { lazyDatabase, readSecret } from '@infralogs/core';
import { createAuth, parseAuthSecrets } from './auth';
import { createDashboardHandler } from './dashboard';
import { checkBasePath, DEFAULT_BASE_PATH } from './page';

/**
 * The function's entry (templates/node22-ts loads `src/handler.ts`'s default export): reader
 * credentials leased from Vault for the replica (stack.yml sets DB_HOST to the replica and the
 * reader's Vault role; lazyDatabase validates that environment now, at start, and connects on the
 * first request), the login's secrets `dashboard-users` and `dashboard-session-key` (re-read every
 * few seconds, so a changed users file takes effect without a restart), and the static folder the
 * template ships with the function: `$FUNCTION_DIR/static`, or the folder beside `src/` when
 * FUNCTION_DIR is unset. DASHBOARD_BASE_PATH is checked at start-up (CONFIG_INVALID).
 */
const reader = lazyDatabase('reader');
const functionDir = process.env.FUNCTION_DIR;
const basePath = checkBasePath(process.env.DASHBOARD_BASE_PATH || DEFAULT_BASE_PATH);

export default createDashboardHandler({
  getDatabase: () => reader.get(),
  staticDir: functionDir ? join(functionDir, 'static') : fileURLToPath(new URL('../static', import.meta.url)),
  basePath,
  auth: createAuth({
    path: basePath,
    loadSecrets: async () =>
      parseAuthSecrets(await readSecret('dashboard-users'), await readSecret('dashboard-session-key')),
  }),
});
