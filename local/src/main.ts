/**
 * `npm start`: the whole Infralogs stack on this machine, until Ctrl-C or SIGTERM.
 * Progress goes to stderr; stdout carries the URLs, where the credentials are, and last one line
 * `READY <dashboard-url>` for scripts to wait for.
 *
 * `npm start -- --fresh` empties the state directory first; otherwise the last run's data is kept.
 *
 * Environment (all optional): GATEWAY_PORT (default 8080, or a free port when taken; 0 = any free port), STACK_DIR (state,
 * default .work/stack), STACK_FILE (default stack.yml), STACK_USE_MACHINE_JOURNAL (default true),
 * INFRALOGS_INVENTORY (a hosts.yml of real agents to collect too), INFRALOGS_DEMO (default true;
 * false with an inventory collects the real agents only).
 */
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { env, loadConfig } from '@infralogs/core';
import { stackBanner, startLocalStack, type LocalStack } from './stack';
import { watchAncestors } from './stack/ancestors';
import { stderrProgress as progress } from './stack/progress';

const configSchema = z.object({
  /** Unset: 8080, or a free port when 8080 is taken. */
  GATEWAY_PORT: z.coerce.number().int().min(0).max(65535).optional(),
  STACK_DIR: z.string().min(1).optional(),
  STACK_FILE: z.string().min(1).optional(),
  STACK_USE_MACHINE_JOURNAL: env.bool(true),
  INFRALOGS_INVENTORY: z.string().min(1).optional(),
  INFRALOGS_DEMO: env.bool(true),
});

async function main() {
  const config = loadConfig(configSchema);
  const { values: flags } = parseArgs({ options: { fresh: { type: 'boolean' } }, strict: true });
  const startup = new AbortController();
  let stack: LocalStack | undefined;
  let stopping = false;
  const onSignal = (reason: string) => {
    if (stopping) return;
    stopping = true;
    progress(`${reason}: stopping everything…`);
    // During start-up, startLocalStack stops what it started and rejects.
    if (!stack) return startup.abort();
    void stack.stop().then(
      () => {
        progress('stopped');
        process.exit(0);
      },
      (err: unknown) => {
        progress(`stop failed: ${(err as Error)?.message ?? String(err)}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  watchAncestors(() => onSignal('the process that started the stack exited'));

  try {
    stack = await startLocalStack({
      ...(config.GATEWAY_PORT === undefined ? {} : { gatewayPort: config.GATEWAY_PORT }),
      ...(config.STACK_DIR ? { stateDir: config.STACK_DIR } : {}),
      ...(config.STACK_FILE ? { stackFile: config.STACK_FILE } : {}),
      useMachineJournal: config.STACK_USE_MACHINE_JOURNAL,
      fresh: flags.fresh ?? false,
      ...(config.INFRALOGS_INVENTORY ? { inventory: config.INFRALOGS_INVENTORY } : {}),
      demoAgents: config.INFRALOGS_DEMO,
      collectOnStart: true,
      progress,
      signal: startup.signal,
    });
  } catch (err) {
    if (startup.signal.aborted) {
      progress('stopped before it was ready');
      process.exit(0);
    }
    progress(`could not start: ${(err as Error)?.message ?? String(err)}`);
    process.exit(1);
  }
  process.stdout.write(`${stackBanner(stack)}\nREADY ${stack.dashboardUrl}\n`);
}

main().catch((err: unknown) => {
  progress(`could not start: ${(err as Error)?.message ?? String(err)}`);
  process.exit(1);
});
