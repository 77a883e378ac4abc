import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { CE_LIMITS, envsubst, loadStack, parseStack, quantity, TESTED_LANGS } from '../src/stack-file';
import { parseDuration } from '../src/gateway/duration';

const stackPath = fileURLToPath(new URL('../../stack.yml', import.meta.url));
const stackText = readFileSync(stackPath, 'utf8');
const env = { TAG: 'abc123' };

type Doc = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** The real stack.yml with one change, re-validated. */
function mutated(change: (doc: Doc) => void): () => unknown {
  const doc = parse(stackText) as Doc;
  change(doc);
  return () => parseStack(stringify(doc), env);
}

describe('stack.yml', () => {
  it('validates, with the four functions and their images', async () => {
    const stack = await loadStack(stackPath, { REGISTRY: 'registry.local:5000/infralogs', TAG: 'abc123' });
    expect(Object.keys(stack.functions).sort()).toEqual(['collect', 'dashboard', 'fetch-host', 'ingest']);
    expect(stack.functions.ingest?.image).toBe('registry.local:5000/infralogs/ingest:abc123');
    expect(stack.provider).toEqual({ name: 'openfaas', gateway: 'http://127.0.0.1:8080' });
    expect(stack.configuration?.copy).toEqual(['./packages']);
    expect(stack.dir).toBe(fileURLToPath(new URL('../..', import.meta.url)).replace(/\/$/, ''));
  });

  it('schedules collect daily through the cron-connector and lines timeouts up', async () => {
    const { functions } = await loadStack(stackPath, env);
    expect(functions.collect?.annotations).toMatchObject({ topic: 'cron-function', schedule: '0 2 * * *' });
    const ms = (fn: string, key: string) => parseDuration(functions[fn]?.environment?.[key] ?? '') as number;
    // A caller waits a little longer than its callee's exec_timeout, so the gateway's 504 comes first.
    expect(Number(functions.collect?.environment?.FETCH_HOST_TIMEOUT_MS)).toBeGreaterThan(
      ms('fetch-host', 'exec_timeout'),
    );
    expect(Number(functions['fetch-host']?.environment?.INGEST_TIMEOUT_MS)).toBeGreaterThan(
      ms('ingest', 'exec_timeout'),
    );
    expect(ms('collect', 'exec_timeout')).toBeGreaterThan(
      Number(functions.collect?.environment?.FETCH_HOST_TIMEOUT_MS),
    );
    // A batch is one request body, which ingest takes as bytes (RAW_BODY): its raw limit
    // (bytes-style, 1024-based) must hold the largest batch fetch-host sends (BATCH_MAX_BYTES,
    // 1 MB by default; ENTRY_MAX_BYTES if set).
    expect(functions.ingest?.environment?.RAW_BODY).toBe('true');
    const size = /^(\d+)(kb|mb|gb)$/i.exec(functions.ingest?.environment?.MAX_RAW_SIZE ?? '');
    expect(size).not.toBeNull();
    const limit = Number(size![1]) * 1024 ** (['kb', 'mb', 'gb'].indexOf(size![2]!.toLowerCase()) + 1);
    const fetchEnv = functions['fetch-host']?.environment ?? {};
    for (const bytes of [fetchEnv.BATCH_MAX_BYTES ?? '1000000', fetchEnv.ENTRY_MAX_BYTES ?? '0']) {
      expect(limit).toBeGreaterThan(Number(bytes));
    }
  });

  it('gives every function a test script, which the image build runs', async () => {
    const stack = await loadStack(stackPath, env);
    for (const fn of Object.values(stack.functions)) {
      expect(TESTED_LANGS).toContain(fn.lang);
      const manifest = JSON.parse(readFileSync(join(stack.dir!, fn.handler, 'package.json'), 'utf8'));
      expect(manifest.scripts?.test, fn.handler).toMatch(/\S/);
    }
    const dockerfile = readFileSync(join(stack.dir!, 'templates', 'node22-ts', 'Dockerfile'), 'utf8');
    expect(dockerfile).toMatch(/^RUN npm test$/m);
  });

  it('points writers at the primary and the dashboard at the replica', async () => {
    const { functions } = await loadStack(stackPath, env);
    for (const fn of ['collect', 'fetch-host', 'ingest']) {
      expect(functions[fn]?.environment?.DB_HOST).toMatch(/^mysql-primary\./);
    }
    expect(functions.dashboard?.environment?.DB_HOST).toMatch(/^mysql-replica\./);
    expect(functions.dashboard?.environment?.VAULT_DB_ROLE).toBe('infralogs-reader');
  });
});

describe('stack schema rejects', () => {
  const cases: [string, (doc: Doc) => void, RegExp][] = [
    ['an unknown top-level key', (d) => (d.functionz = {}), /\(root\): Unrecognized key: "functionz"/],
    [
      'an unknown function key',
      (d) => (d.functions.ingest.enviroment = { A: 'b' }),
      /functions\.ingest: Unrecognized key: "enviroment"/,
    ],
    [
      'an unknown limits key',
      (d) => (d.functions.ingest.limits.mem = '1Gi'),
      /functions\.ingest\.limits: .*"mem"/,
    ],
    ['an unknown provider key', (d) => (d.provider.network = 'func_functions'), /provider: .*"network"/],
    [
      'more functions than CE runs',
      (d) => {
        for (let i = 0; i < 12; i++) d.functions[`extra-${i}`] = { ...d.functions.dashboard };
      },
      /functions: OpenFaaS CE runs at most 15 functions \(found 16\)/,
    ],
    [
      'a bad cron schedule',
      (d) => (d.functions.collect.annotations.schedule = '0 2 * *'),
      /functions\.collect\.annotations\.schedule: invalid cron schedule "0 2 \* \*"/,
    ],
    [
      'a seconds field the cron-connector does not have',
      (d) => (d.functions.collect.annotations.schedule = '0 0 2 * * *'),
      /functions\.collect\.annotations\.schedule: invalid cron schedule/,
    ],
    [
      'a time zone prefix',
      (d) => (d.functions.collect.annotations.schedule = 'CRON_TZ=Europe/Paris 0 2 * * *'),
      /runs schedules in UTC/,
    ],
    [
      'a topic with a comma',
      (d) => (d.functions.collect.annotations.topic = 'cron-function,kafka'),
      /functions\.collect\.annotations\.topic: OpenFaaS CE accepts a single topic/,
    ],
    [
      'a schedule without the cron topic',
      (d) => delete d.functions.collect.annotations.topic,
      /functions\.collect\.annotations\.topic: a schedule needs topic: cron-function/,
    ],
    [
      'a scale-to-zero label',
      (d) => (d.functions.dashboard.labels['com.openfaas.scale.zero'] = 'true'),
      /functions\.dashboard\.labels\.com\.openfaas\.scale\.zero: is an OpenFaaS Pro setting/,
    ],
    [
      'a scale target annotation',
      (d) => (d.functions.ingest.annotations = { 'com.openfaas.scale.target': '50' }),
      /com\.openfaas\.scale\.target: is an OpenFaaS Pro setting/,
    ],
    [
      'more replicas than CE allows',
      (d) => (d.functions.ingest.labels['com.openfaas.scale.max'] = '6'),
      /com\.openfaas\.scale\.max: must be a whole number from 1 to 5/,
    ],
    [
      'a name that is not an RFC 1035 label',
      (d) => (d.functions.Fetch_Host = d.functions['fetch-host']),
      /functions\.Fetch_Host: .*RFC 1035/,
    ],
    [
      'a name longer than 63 characters',
      (d) => (d.functions['f'.repeat(64)] = d.functions.dashboard),
      /at most 63 characters/,
    ],
    [
      'a memory unit Kubernetes does not know',
      (d) => (d.functions.ingest.limits.memory = '512MB'),
      /functions\.ingest\.limits\.memory: must be a positive Kubernetes memory quantity/,
    ],
    [
      'requests above limits',
      (d) => (d.functions.ingest.requests.memory = '1Gi'),
      /functions\.ingest\.requests\.memory: must not exceed limits\.memory/,
    ],
    [
      'an environment value that is not a string',
      (d) => (d.functions.collect.environment.COLLECT_CONCURRENCY = 4),
      /functions\.collect\.environment\.COLLECT_CONCURRENCY: must be a string/,
    ],
    [
      'a bad duration',
      (d) => (d.functions.ingest.environment.exec_timeout = '60 seconds'),
      /functions\.ingest\.environment\.exec_timeout: "60 seconds" is not a duration/,
    ],
    [
      'a write_timeout shorter than exec_timeout',
      (d) => (d.functions.ingest.environment.write_timeout = '30s'),
      /functions\.ingest\.environment\.write_timeout: must be at least exec_timeout/,
    ],
    ['another namespace', (d) => (d.functions.ingest.namespace = 'infralogs'), /deploys only to openfaas-fn/],
    ['another provider', (d) => (d.provider.name = 'faasd'), /provider\.name: /],
    [
      'a copy path outside the project',
      (d) => (d.configuration.copy = ['../shared']),
      /configuration\.copy\.0: /,
    ],
    [
      'a Vault injector without a role',
      (d) => (d.functions.ingest.annotations = { 'vault.hashicorp.com/agent-inject': 'true' }),
      /vault\.hashicorp\.com\/role: the Vault agent injector needs a role/,
    ],
    [
      'a bad secret name',
      (d) => d.functions.ingest.secrets.push('Ingest_Token'),
      /functions\.ingest\.secrets\.1: /,
    ],
  ];

  it.each(cases)('%s', (_what, change, message) => {
    const run = mutated(change);
    expect(run).toThrow(message);
    expect(run).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }));
  });

  it('names every problem at once', () => {
    const run = mutated((d) => {
      d.functions.ingest.limits.memory = '1gb';
      d.functions.collect.annotations.topic = 'a,b';
    });
    expect(run).toThrow(/functions\.ingest\.limits\.memory: /);
    expect(run).toThrow(/functions\.collect\.annotations\.topic: /);
  });

  it('rejects a missing handler folder when loading from disk', async () => {
    const { mkdtempSync, writeFileSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const dir = mkdtempSync(`${tmpdir()}/stack-`);
    try {
      writeFileSync(`${dir}/stack.yml`, stackText);
      await expect(loadStack(`${dir}/stack.yml`, env)).rejects.toThrow(
        /functions\.collect\.handler: .* does not exist/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('rejects a handler folder without a test script when loading from disk', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'stack-'));
    try {
      writeFileSync(join(dir, 'stack.yml'), stackText);
      for (const fn of ['functions/collect', 'functions/fetch-host', 'functions/ingest', 'dashboard-fn']) {
        mkdirSync(join(dir, fn), { recursive: true });
        writeFileSync(
          join(dir, fn, 'package.json'),
          JSON.stringify({ name: fn, scripts: fn === 'dashboard-fn' ? {} : { test: 'vitest run' } }),
        );
      }
      rmSync(join(dir, 'functions/ingest/package.json'));
      const load = loadStack(join(dir, 'stack.yml'), env);
      await expect(load).rejects.toThrow(
        /functions\.dashboard\.handler: \.\/dashboard-fn\/package\.json has no "test" script/,
      );
      await expect(load).rejects.toThrow(/functions\.ingest\.handler: .*package\.json cannot be read/);
      await expect(load).rejects.not.toThrow(/functions\.collect\./);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('knows the CE limits it enforces', () => {
    expect(CE_LIMITS).toMatchObject({ maxFunctions: 15, maxReplicas: 5, namespace: 'openfaas-fn' });
  });
});

describe('envsubst, quantities and durations', () => {
  it('substitutes like faas-cli', () => {
    const e = { A: 'a', EMPTY: '' };
    expect(envsubst('${A} $A ${B:-d} ${EMPTY:-d} ${EMPTY-d} ${B-d} ${B}.', e)).toBe('a a d d  d .');
  });

  it('reads Kubernetes quantities', () => {
    expect(quantity('memory', '128Mi')).toBe(128 * 2 ** 20);
    expect(quantity('memory', '1G')).toBe(1e9);
    expect(quantity('memory', '128MB')).toBeUndefined();
    expect(quantity('cpu', '500m')).toBe(0.5);
    expect(quantity('cpu', '2')).toBe(2);
  });

  it('reads Go durations and bare seconds', () => {
    expect(parseDuration('30m1s')).toBe(30 * 60_000 + 1000);
    expect(parseDuration('1.5h')).toBe(5_400_000);
    expect(parseDuration('250ms')).toBe(250);
    expect(parseDuration('60')).toBe(60_000);
    expect(parseDuration('60 s')).toBeUndefined();
    expect(parseDuration('')).toBeUndefined();
  });
});
