// The same body reading as fetch-host's: an image build copies only packages/ next to a function,
// so until @infralogs/core offers it each callable function keeps its own copy.
import { InfralogsError } from '@infralogs/core';

/**
 * The request body as JSON, whatever the wrapper made of it: already parsed (application/json),
 * text or bytes (other content types; curl without -H sends none), or nothing (a body-less POST).
 * An empty body is `undefined`; text that is not JSON is BAD_REQUEST.
 */
export function parseJsonBody(body: unknown): unknown {
  if (body === undefined || body === null) return undefined;
  const text = Buffer.isBuffer(body) ? body.toString('utf8') : body;
  if (typeof text !== 'string') return text;
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    throw new InfralogsError('BAD_REQUEST', 'request body is not JSON');
  }
}
