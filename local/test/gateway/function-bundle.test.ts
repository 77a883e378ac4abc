import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '@infralogs/core';
import { startGateway, type Gateway } from '../../src/gateway';
import { bundleFunction } from '../../src/gateway/function-bundle';
import type { Stack } from '../../src/stack-file';
import { makeWorkspace, probeFunction, type Workspace } from './fixtures';

const quiet = createLogger({}, { write: () => {} });

describe('local gateway: functions run as bundles under plain node', () => {
  let ws: Workspace;
  let gw: Gateway;
  let bundleDir: string;

  beforeAll(async () => {
    ws = makeWorkspace();
    bundleDir = join(ws.dir, 'bundles');
    const stack: Stack = {
      provider: { name: 'openfaas' },
      functions: { echo: probeFunction() },
      dir: ws.dir,
    };
    gw = await startGateway({
      stack,
      functions: { echo: { secretsDir: ws.secretsDir } },
      bundleDir,
      log: quiet,
      output: () => {},
    });
  });

  afterAll(async () => {
    await gw?.stop();
    ws?.remove();
  });

  it('serves the handler from one bundle, without the tsx loader', async () => {
    const res = await fetch(`${gw.url}/function/echo/x?y=1`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { path: string; secret: string; pid: number };
    expect(body).toMatchObject({ path: '/x', secret: 's3cr3t' });
    const argv = readFileSync(`/proc/${body.pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
    const [bundle] = readdirSync(bundleDir);
    expect(bundle).toMatch(/^echo-[0-9a-f]{16}\.mjs$/);
    expect(argv).toEqual([process.execPath, join(bundleDir, bundle!)]);
  });

  it('names a bundle by its content, so the same sources give the same file', async () => {
    const again = await bundleFunction('echo', ws.handlerFile, bundleDir);
    expect(readdirSync(bundleDir)).toEqual([again.slice(bundleDir.length + 1)]);
  });
});
