import { runStoreCli } from '@infralogs/core';
import { runCli } from './cli';
import { runHostsCli } from './hosts/cli';

// The admin image's one entry: Vault's bootstrap (cli.ts and vault/README.md), the fleet's hosts
// (`hosts <verb>`, hosts/cli.ts; `npm run hosts`), and the store's operator commands, which the
// schema Job runs with the migrator's lease file.
const STORE_COMMANDS = new Set(['migrate', 'partitions', 'retention']);
const argv = process.argv.slice(2);
process.exitCode =
  argv[0] === 'hosts'
    ? await runHostsCli(argv.slice(1))
    : STORE_COMMANDS.has(argv[0] ?? '')
      ? await runStoreCli(argv)
      : await runCli(argv);
