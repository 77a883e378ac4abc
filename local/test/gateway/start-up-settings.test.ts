import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createLogger } from '@infralogs/core';
import { findHandlerFile } from '../../../templates/node22-ts/handler-file';
import { FunctionProcess } from '../../src/gateway/function-process';
import { loadStack } from '../../src/stack-file';

const stackPath = fileURLToPath(new URL('../../../stack.yml', import.meta.url));

/**
 * Settings are checked when a function starts, not on its first request: each real function,
 * started the way the gateway starts it (its own process running the node22-ts wrapper, with its
 * stack.yml environment), exits during start-up naming the variable that is missing or bad.
 */
describe('a function with bad settings stops at start', () => {
  const cases: { fn: string; change: (env: Record<string, string>) => void; names: string }[] = [
    { fn: 'ingest', change: (env) => delete env.DB_HOST, names: 'DB_HOST' },
    { fn: 'fetch-host', change: (env) => (env.VAULT_ADDR = 'not a url'), names: 'VAULT_ADDR' },
    { fn: 'dashboard', change: (env) => (env.LOG_LEVEL = 'loud'), names: 'LOG_LEVEL' },
  ];

  it.each(cases)('$fn without a good $names', async ({ fn, change, names }) => {
    const stack = await loadStack(stackPath, {});
    const spec = stack.functions[fn]!;
    const functionDir = resolve(stack.dir ?? process.cwd(), spec.handler);
    const env = { ...spec.environment };
    change(env);
    const output: string[] = [];
    const proc = new FunctionProcess({
      name: fn,
      handlerFile: findHandlerFile(functionDir),
      functionDir,
      env,
      log: createLogger({}, { write: () => {} }),
      output: (_name, line) => output.push(line),
    });
    try {
      await expect(proc.start()).rejects.toThrow(/exited during start-up/);
      const failed = output
        .map((line) => JSON.parse(line) as { event?: string; error?: { code?: string; message?: string } })
        .find((record) => record.event === 'wrapper.failed');
      expect(failed?.error?.code).toBe('CONFIG_INVALID');
      expect(failed?.error?.message).toContain(names);
      expect(proc.running).toBe(false);
    } finally {
      await proc.stop();
    }
  });
});
