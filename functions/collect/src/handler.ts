import { createCollectHandler } from './endpoint';
import { createCollectDeps } from './deps';

/** The function's entry (templates/node22-ts loads `src/handler.ts`'s default export). */
export default createCollectHandler(createCollectDeps());
