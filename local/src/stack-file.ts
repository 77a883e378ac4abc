/**
 * stack.yml: loading and strict validation. faas-cli parses stack.yml leniently (yaml.v3 into the
 * go-sdk `stack` structs: unknown or misspelt keys are silently dropped), so this schema mirrors
 * those structs with every object strict, and adds the rules OpenFaaS Community Edition enforces
 * at deploy time or silently ignores (faas-netes validate.go/deploy.go, cron-connector main.go).
 * The local gateway runs from the Stack this returns.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, normalize, resolve } from 'node:path';
import { parse } from 'yaml';
import { z } from 'zod';
import { InfralogsError } from '@infralogs/core';
import { parseDuration } from './gateway/duration';
import { parseSchedule } from './gateway/schedule';

export interface FunctionResources {
  memory?: string;
  cpu?: string;
}

export interface StackFunction {
  lang: string;
  /** Function folder, relative to the stack file. */
  handler: string;
  image: string;
  fprocess?: string;
  environment?: Record<string, string>;
  secrets?: string[];
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  limits?: FunctionResources;
  requests?: FunctionResources;
  readonly_root_filesystem?: boolean;
  skip_build?: boolean;
  constraints?: string[];
  environment_file?: string[];
  build_options?: string[];
  build_args?: Record<string, string>;
  build_secrets?: Record<string, string>;
  namespace?: string;
  platforms?: string;
}

export interface Stack {
  version?: '1.0';
  provider: { name: 'openfaas'; gateway?: string };
  configuration?: { templates?: { name: string; source?: string }[]; copy?: string[] };
  functions: Record<string, StackFunction>;
  /** The folder handler paths are relative to (set by loadStack; defaults to the working directory). */
  dir?: string;
}

/** OpenFaaS Community Edition limits (faas-netes replica_reader.go, validate.go, deploy.go). */
export const CE_LIMITS = {
  maxFunctions: 15,
  maxReplicas: 5,
  namespace: 'openfaas-fn',
  /** Rejected by CE, or Pro features CE ignores. */
  proOnlyKeys: [
    'com.openfaas.scale.zero',
    'com.openfaas.scale.zero-duration',
    'com.openfaas.scale.target',
    'com.openfaas.scale.target-proportion',
    'com.openfaas.scale.type',
    'com.openfaas.serviceaccount',
  ],
  proOnlyPrefixes: ['com.openfaas.health.'],
} as const;

export const CRON_TOPIC = 'cron-function';

const rfc1035 = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const dns1123Subdomain = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const envName = /^[-._a-zA-Z][-._a-zA-Z0-9]*$/;
const memoryQuantity = /^(\d+(\.\d+)?)(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$/;
const cpuQuantity = /^(\d+(\.\d+)?)(m)?$/;
const MEMORY_FACTOR: Record<string, number> = {
  '': 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

/** A Kubernetes quantity in bytes (memory) or cores (cpu); undefined when malformed. */
export function quantity(kind: 'memory' | 'cpu', text: string): number | undefined {
  const m = (kind === 'memory' ? memoryQuantity : cpuQuantity).exec(text);
  if (!m) return undefined;
  const n = Number(m[1]);
  if (kind === 'cpu') return m[3] ? n / 1000 : n;
  return n * (MEMORY_FACTOR[m[3] ?? ''] as number);
}

const stringMap = (key: z.ZodString) => z.record(key, z.string({ error: 'must be a string (quote it)' }));
const resources = z.strictObject({
  memory: z
    .string()
    .refine(
      (v) => (quantity('memory', v) ?? 0) > 0,
      'must be a positive Kubernetes memory quantity, e.g. 128Mi',
    )
    .optional(),
  cpu: z
    .string()
    .refine((v) => (quantity('cpu', v) ?? 0) > 0, 'must be a positive Kubernetes CPU quantity, e.g. 100m')
    .optional(),
});

const functionSchema = z.strictObject({
  lang: z.string().min(1),
  handler: z.string().min(1),
  image: z.string().min(1),
  fprocess: z.string().min(1).optional(),
  environment: stringMap(z.string().regex(envName, 'is not a valid environment variable name')).optional(),
  secrets: z
    .array(
      z.string().max(253).regex(dns1123Subdomain, 'must be a DNS-1123 name (lower case, digits, - and .)'),
    )
    .optional(),
  labels: stringMap(z.string().min(1)).optional(),
  annotations: stringMap(z.string().min(1)).optional(),
  limits: resources.optional(),
  requests: resources.optional(),
  readonly_root_filesystem: z.boolean().optional(),
  skip_build: z.boolean().optional(),
  constraints: z.array(z.string()).optional(),
  environment_file: z.array(z.string()).optional(),
  build_options: z.array(z.string()).optional(),
  build_args: stringMap(z.string().min(1)).optional(),
  build_secrets: stringMap(z.string().min(1)).optional(),
  namespace: z.string().optional(),
  platforms: z.string().optional(),
});

const stackSchema = z
  .strictObject({
    version: z.literal('1.0').optional(),
    provider: z.strictObject({
      name: z.literal('openfaas'),
      gateway: z.url().optional(),
    }),
    configuration: z
      .strictObject({
        templates: z
          .array(z.strictObject({ name: z.string().min(1), source: z.string().min(1).optional() }))
          .optional(),
        copy: z.array(z.string().min(1)).optional(),
      })
      .optional(),
    functions: z.record(
      z
        .string()
        .max(63, 'function names have at most 63 characters')
        .regex(rfc1035, 'must be an RFC 1035 label'),
      functionSchema,
    ),
  })
  .superRefine((stack, ctx) => {
    const names = Object.keys(stack.functions);
    if (names.length > CE_LIMITS.maxFunctions) {
      ctx.addIssue({
        code: 'custom',
        path: ['functions'],
        message: `OpenFaaS CE runs at most ${CE_LIMITS.maxFunctions} functions (found ${names.length})`,
      });
    }
    for (const [i, path] of (stack.configuration?.copy ?? []).entries()) {
      const clean = normalize(path);
      if (isAbsolute(path) || clean === '.' || clean.startsWith('..')) {
        ctx.addIssue({
          code: 'custom',
          path: ['configuration', 'copy', i],
          message: 'must be a folder inside the project (faas-cli refuses anything else)',
        });
      }
    }
    for (const name of names) checkFunction(name, stack.functions[name] as StackFunction, ctx);
  });

function checkFunction(name: string, fn: StackFunction, ctx: z.RefinementCtx) {
  const at = (...path: (string | number)[]) => ['functions', name, ...path];
  const issue = (path: (string | number)[], message: string) =>
    ctx.addIssue({ code: 'custom', path, message });

  if (fn.namespace !== undefined && fn.namespace !== CE_LIMITS.namespace) {
    issue(at('namespace'), `OpenFaaS CE deploys only to ${CE_LIMITS.namespace}`);
  }
  for (const field of ['labels', 'annotations'] as const) {
    for (const [key, value] of Object.entries(fn[field] ?? {})) {
      const pro =
        (CE_LIMITS.proOnlyKeys as readonly string[]).includes(key) ||
        CE_LIMITS.proOnlyPrefixes.some((p) => key.startsWith(p));
      if (pro) issue(at(field, key), 'is an OpenFaaS Pro setting: CE rejects or ignores it');
      if (key === 'com.openfaas.scale.min' || key === 'com.openfaas.scale.max') {
        const n = Number(value);
        if (!Number.isInteger(n) || n < 1 || n > CE_LIMITS.maxReplicas) {
          issue(at(field, key), `must be a whole number from 1 to ${CE_LIMITS.maxReplicas} in OpenFaaS CE`);
        }
      }
    }
    const min = Number(fn[field]?.['com.openfaas.scale.min'] ?? 1);
    const max = Number(fn[field]?.['com.openfaas.scale.max'] ?? CE_LIMITS.maxReplicas);
    if (min > max) issue(at(field, 'com.openfaas.scale.min'), 'must not exceed com.openfaas.scale.max');
  }

  const annotations = fn.annotations ?? {};
  const topic = annotations.topic;
  if (topic !== undefined && topic.includes(',')) {
    issue(at('annotations', 'topic'), 'OpenFaaS CE accepts a single topic (no commas)');
  }
  const schedule = annotations.schedule;
  if (schedule !== undefined) {
    if (topic !== CRON_TOPIC) issue(at('annotations', 'topic'), `a schedule needs topic: ${CRON_TOPIC}`);
    try {
      parseSchedule(schedule);
    } catch (err) {
      issue(at('annotations', 'schedule'), `invalid cron schedule "${schedule}": ${(err as Error).message}`);
    }
  } else if (topic === CRON_TOPIC) {
    issue(at('annotations', 'schedule'), `topic ${CRON_TOPIC} needs a schedule`);
  }
  if (
    annotations['vault.hashicorp.com/agent-inject'] === 'true' &&
    !annotations['vault.hashicorp.com/role']
  ) {
    issue(at('annotations', 'vault.hashicorp.com/role'), 'the Vault agent injector needs a role');
  }

  const env = fn.environment ?? {};
  const timeouts: Record<string, number> = {};
  for (const key of ['exec_timeout', 'read_timeout', 'write_timeout'] as const) {
    if (env[key] === undefined) continue;
    const ms = parseDuration(env[key]);
    if (ms === undefined) issue(at('environment', key), `"${env[key]}" is not a duration such as 30s or 10m`);
    else timeouts[key] = ms;
  }
  if (timeouts.exec_timeout !== undefined && timeouts.write_timeout !== undefined) {
    if (timeouts.write_timeout < timeouts.exec_timeout) {
      issue(at('environment', 'write_timeout'), 'must be at least exec_timeout, or replies are cut off');
    }
  }

  for (const kind of ['memory', 'cpu'] as const) {
    const req = fn.requests?.[kind];
    const lim = fn.limits?.[kind];
    if (req === undefined || lim === undefined) continue;
    if ((quantity(kind, req) ?? 0) > (quantity(kind, lim) ?? Infinity)) {
      issue(at('requests', kind), `must not exceed limits.${kind} (${lim})`);
    }
  }
}

/**
 * faas-cli's envsubst (drone/envsubst) on the raw text: `${VAR}`, `$VAR`, `${VAR:-default}` (unset
 * or empty) and `${VAR-default}` (unset). Unset variables without a default become empty.
 */
export function envsubst(text: string, env: Record<string, string | undefined>): string {
  return text.replace(
    /\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?-)([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g,
    (
      _all,
      braced: string | undefined,
      op: string | undefined,
      def: string | undefined,
      bare: string | undefined,
    ) => {
      const value = env[(braced ?? bare) as string];
      if (op === ':-' && !value) return def ?? '';
      if (op === '-' && value === undefined) return def ?? '';
      return value ?? '';
    },
  );
}

interface Issue {
  path: PropertyKey[];
  message: string;
  /** zod nests the reasons a record key failed under an `invalid_key` issue. */
  issues?: { message: string }[];
}

function invalid(source: string, issues: Issue[]): InfralogsError {
  const reason = (i: Issue) => (i.issues?.length ? i.issues.map((n) => n.message).join('; ') : i.message);
  const lines = issues.map((i) => `${i.path.map(String).join('.') || '(root)'}: ${reason(i)}`);
  return new InfralogsError('CONFIG_INVALID', `${source} is invalid:\n  ${lines.join('\n  ')}`, {
    details: { paths: issues.map((i) => i.path.map(String).join('.')) },
  });
}

/** Validates stack.yml text (after envsubst). Throws CONFIG_INVALID naming every bad key path. */
export function parseStack(
  text: string,
  env: Record<string, string | undefined> = process.env,
  source = 'stack.yml',
): Stack {
  let raw: unknown;
  try {
    raw = parse(envsubst(text, env));
  } catch (err) {
    throw invalid(source, [{ path: [], message: `not YAML: ${(err as Error).message}` }]);
  }
  const result = stackSchema.safeParse(raw);
  if (!result.success) throw invalid(source, result.error.issues as Issue[]);
  return result.data as Stack;
}

/** Languages whose image build runs the function's `npm test` (templates/node22-ts/Dockerfile). */
export const TESTED_LANGS = ['node22-ts'];

/** Why a handler folder cannot be built, or null: it must exist and, if tested, have a test script. */
async function handlerProblem(dir: string, fn: StackFunction): Promise<string | null> {
  const folder = resolve(dir, fn.handler);
  if (!existsSync(folder)) return `${fn.handler} does not exist`;
  if (!TESTED_LANGS.includes(fn.lang)) return null;
  let manifest: { scripts?: Record<string, unknown> };
  try {
    manifest = JSON.parse(await readFile(resolve(folder, 'package.json'), 'utf8')) as typeof manifest;
  } catch (err) {
    return `${fn.handler}/package.json cannot be read: ${(err as Error).message}`;
  }
  const test = manifest.scripts?.test;
  return typeof test === 'string' && test.trim() !== ''
    ? null
    : `${fn.handler}/package.json has no "test" script, which the ${fn.lang} image build runs`;
}

/**
 * Reads and validates a stack file; handler folders must exist next to it, and those of a template
 * that runs `npm test` in the image build must have a test script (else the build fails).
 */
export async function loadStack(
  path: string,
  env: Record<string, string | undefined> = process.env,
): Promise<Stack> {
  const file = resolve(path);
  const stack = parseStack(await readFile(file, 'utf8'), env, path);
  const dir = dirname(file);
  const problems: Issue[] = [];
  for (const [name, fn] of Object.entries(stack.functions)) {
    const message = await handlerProblem(dir, fn);
    if (message) problems.push({ path: ['functions', name, 'handler'], message });
  }
  if (problems.length) throw invalid(path, problems);
  return { ...stack, dir };
}
