import { runCli } from './cli';

// Usage and environment: see cli.ts and vault/README.md.
process.exitCode = await runCli(process.argv.slice(2));
