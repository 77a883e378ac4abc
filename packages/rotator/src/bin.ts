#!/usr/bin/env node
import { OptionsInvalidError, RotatorError } from './errors.js';
import { main } from './cli.js';

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    // node:util parseArgs throws ERR_PARSE_ARGS_* for unknown or malformed options.
    const usage =
      err instanceof OptionsInvalidError ||
      String((err as { code?: unknown }).code).startsWith('ERR_PARSE_ARGS');
    const code = err instanceof RotatorError ? err.code : usage ? 'OPTIONS_INVALID' : 'FAILED';
    process.stderr.write(`vault-rotator: ${code}: ${(err as Error).message}\n`);
    process.exit(usage ? 2 : 1);
  },
);
