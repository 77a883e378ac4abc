import type { Handler } from '@infralogs/core';

/**
 * A new function's handler (`faas-cli new NAME --lang node22-ts`). Keep it thin: parse the request,
 * call the core, answer. Objects are sent as JSON; throw an InfralogsError for a coded error.
 */
const handler: Handler = async (event) => ({
  method: event.method,
  path: event.path,
  received: event.body ?? null,
});

export default handler;
