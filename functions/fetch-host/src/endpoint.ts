import { z } from 'zod';
import {
  ErrorCodes,
  InfralogsError,
  parseJsonBody,
  requireCallerToken,
  type Handler,
  type HostResult,
} from '@infralogs/core';

const requestSchema = z.object({ host: z.string().min(1).max(255) }).strict();

export interface FetchHostEndpointDeps {
  fetchHost: (host: string) => Promise<HostResult>;
  /** The accepted caller tokens (secret `fetch-host-token`), read per call. */
  callerTokens: () => Promise<string[]>;
}

/**
 * POST `{ "host": "<name>" }` with `Authorization: Bearer <fetch-host-token>`. Answers the host's
 * HostResult (core's hostResultSchema): 200 when complete; when the pull stopped early, the status of its error with
 * the same body, whose `error: { code, message }` keeps the shape of every JSON error.
 * Thrown errors become JSON errors in the template's wrapper.
 */
export function createFetchHostHandler(deps: FetchHostEndpointDeps): Handler {
  return async (event, context) => {
    requireCallerToken(event.headers, await deps.callerTokens());
    const parsed = requestSchema.safeParse(parseJsonBody(event.body));
    if (!parsed.success) throw new InfralogsError('BAD_REQUEST', 'expected a JSON body { "host": "<name>" }');
    const result = await deps.fetchHost(parsed.data.host);
    if (result.error) context.status(ErrorCodes[result.error.code as keyof typeof ErrorCodes] ?? 502);
    return result;
  };
}
