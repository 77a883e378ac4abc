import { z } from 'zod';
import { InfralogsError } from './errors';
import { LOG_LEVELS } from './log';

/**
 * Reads a component's environment once and validates it with one zod schema. A bad or missing
 * variable fails start-up with a message naming it (values are never echoed: some are secrets).
 */
export function loadConfig<S extends z.ZodType>(
  schema: S,
  env: Record<string, string | undefined> = process.env,
): z.infer<S> {
  const result = schema.safeParse(env);
  if (result.success) return result.data;
  const problems = result.error.issues.map((i) => `${i.path.join('.') || '(environment)'}: ${i.message}`);
  throw new InfralogsError('CONFIG_INVALID', `invalid configuration: ${problems.join('; ')}`, {
    details: { variables: result.error.issues.map((i) => i.path.join('.')) },
  });
}

/** Common field builders so every component spells its variables the same way. */
export const env = {
  port: (def: number) => z.coerce.number().int().min(0).max(65535).default(def),
  int: (def: number, min = 0, max = Number.MAX_SAFE_INTEGER) =>
    z.coerce.number().int().min(min).max(max).default(def),
  str: (def: string) => z.string().min(1).default(def),
  /** An http(s) address: `vault:8200` parses as a URL of scheme `vault:`, so the scheme is checked. */
  url: (def?: string) => {
    const url = z.url({ protocol: /^https?$/, error: 'expected an http:// or https:// URL' });
    return def === undefined ? url : url.default(def);
  },
  /** LOG_LEVEL: unset means the logger's default (info). */
  logLevel: () => z.enum(LOG_LEVELS).optional(),
  bool: (def: boolean) =>
    z
      .enum(['true', 'false', '1', '0', 'yes', 'no'])
      .default(def ? 'true' : 'false')
      .transform((v) => v === 'true' || v === '1' || v === 'yes'),
};
