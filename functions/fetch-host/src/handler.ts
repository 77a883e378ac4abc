import { createFetchHostHandler } from './endpoint';
import { createFetchHostDeps } from './deps';

/** The function's entry (templates/node22-ts loads `src/handler.ts`'s default export). */
export default createFetchHostHandler(createFetchHostDeps());
