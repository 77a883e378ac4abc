import { runStoreCli } from '@infralogs/core';
import { runCli } from './cli';

// The admin image's one entry: Vault work (bootstrap, agent tokens; see cli.ts and vault/README.md)
// and the store's operator commands, which the schema Job runs with the migrator's lease file.
const STORE_COMMANDS = new Set(['migrate', 'partitions', 'retention', 'daily']);
const argv = process.argv.slice(2);
process.exitCode = STORE_COMMANDS.has(argv[0] ?? '') ? await runStoreCli(argv) : await runCli(argv);
