import { parseJsonBody, requireCallerToken, type Handler } from '@infralogs/core';
import { runCollection, type CollectDeps } from './collect';
import { isCronCall, parseCollectBody } from './request';

export interface CollectEndpointDeps extends CollectDeps {
  /** The accepted caller tokens (secret `collect-token`), read per call. */
  callerTokens: () => Promise<string[]>;
}

/**
 * POST `{}` or `{"hosts": [...]}` with `Authorization: Bearer <collect-token>`, or the
 * cron-connector's body-less POST. Answers the run summary `{ runId, status, hosts }`; 409 while
 * another run is active, 400 for unknown or disabled host names (JSON errors from the wrapper).
 */
export function createCollectHandler(deps: CollectEndpointDeps): Handler {
  return async (event) => {
    // A caller without the token learns nothing, not even whether its body was well-formed.
    let body: unknown;
    let malformed: unknown = null;
    try {
      body = parseJsonBody(event.body);
    } catch (err) {
      malformed = err;
    }
    if (malformed === null && isCronCall(event, body)) {
      return runCollection(deps, { trigger: 'schedule', hosts: null });
    }
    requireCallerToken(event.headers, await deps.callerTokens());
    if (malformed !== null) throw malformed;
    return runCollection(deps, { trigger: 'request', hosts: parseCollectBody(body) });
  };
}
