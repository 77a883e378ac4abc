import { z } from 'zod';
import { InfralogsError } from './errors';

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
  url: (def?: string) => (def === undefined ? z.string().url() : z.string().url().default(def)),
  bool: (def: boolean) =>
    z
      .enum(['true', 'false', '1', '0', 'yes', 'no'])
      .default(def ? 'true' : 'false')
      .transform((v) => v === 'true' || v === '1' || v === 'yes'),
};
