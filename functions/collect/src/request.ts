import { z } from 'zod';
import { InfralogsError, type FunctionEvent } from '@infralogs/core';

/**
 * What started a run: the cron-connector's daily tick, or an HTTP call (ad hoc).
 * `hosts` null means every enabled host.
 */
export interface CollectRequest {
  trigger: 'schedule' | 'request';
  hosts: string[] | null;
}

const bodySchema = z
  .object({ hosts: z.array(z.string().min(1).max(255)).min(1).max(1000).optional() })
  .strict();

const header = (event: FunctionEvent, name: string): string | undefined => {
  const value = event.headers[name];
  return Array.isArray(value) ? value[0] : value;
};

/**
 * The cron-connector POSTs with no body and `X-Connector: cron-connector`, and cannot send a
 * token. Only that exact shape is accepted without one: it can do no more than start the scheduled
 * full collection, which refuses to overlap anyway. Everything else needs the caller token.
 */
export function isCronCall(event: FunctionEvent, body: unknown): boolean {
  return header(event, 'x-connector') === 'cron-connector' && body === undefined;
}

/** Parses `{}` or `{"hosts": [...]}` (names deduplicated, order kept); BAD_REQUEST otherwise. */
export function parseCollectBody(body: unknown): string[] | null {
  const parsed = bodySchema.safeParse(body ?? {});
  if (!parsed.success) {
    throw new InfralogsError('BAD_REQUEST', 'expected a JSON body {} or { "hosts": ["<name>", ...] }');
  }
  return parsed.data.hosts ? [...new Set(parsed.data.hosts)] : null;
}

export interface KnownHost {
  name: string;
  enabled: boolean;
}

/**
 * The hosts a run covers: every enabled host, or the ones named, all of which must exist and be
 * enabled (BAD_REQUEST lists the others, so a typo never silently collects less).
 */
export function selectHosts(known: KnownHost[], requested: string[] | null): string[] {
  if (requested === null) return known.filter((h) => h.enabled).map((h) => h.name);
  const byName = new Map(known.map((h) => [h.name, h]));
  const unknown = requested.filter((name) => !byName.has(name));
  const disabled = requested.filter((name) => byName.get(name)?.enabled === false);
  if (unknown.length > 0 || disabled.length > 0) {
    const parts = [
      unknown.length > 0 ? `unknown hosts: ${unknown.join(', ')}` : '',
      disabled.length > 0 ? `disabled hosts: ${disabled.join(', ')}` : '',
    ].filter(Boolean);
    throw new InfralogsError('BAD_REQUEST', parts.join('; '), { details: { unknown, disabled } });
  }
  return requested;
}
