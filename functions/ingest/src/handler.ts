import { parseTokens, readSecret } from '@infralogs/core';
import { getDatabase } from './deps';
import { createIngestHandler } from './ingest';

/** The function's entry (templates/node22-ts loads `src/handler.ts`'s default export). */
export default createIngestHandler({
  getDatabase,
  // Re-read on every call: a rotated secret file takes effect without a restart.
  callerTokens: async () => parseTokens(await readSecret('ingest-token')),
});
