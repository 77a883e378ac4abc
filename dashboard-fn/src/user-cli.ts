import { parseArgs } from 'node:util';
import { hashPassword } from '@infralogs/core';

/**
 * npm run dashboard-user -- NAME < password-file
 * Prints the `NAME:scrypt$…` line of the `dashboard-users` secret for the password read from stdin
 * (its first line), so the password never appears in a command line or the secret.
 */
async function main() {
  const { positionals } = parseArgs({ allowPositionals: true, options: {} });
  const [name] = positionals;
  if (!name || positionals.length !== 1 || /[:\s]/.test(name)) {
    process.stderr.write(
      'usage: npm run dashboard-user -- NAME < password-file (NAME without ":" or spaces)\n',
    );
    process.exit(2);
  }
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  const password = Buffer.concat(chunks).toString('utf8').split('\n')[0]!.replace(/\r$/, '');
  if (password.length < 12) {
    process.stderr.write('the password (first line of stdin) must have at least 12 characters\n');
    process.exit(2);
  }
  process.stdout.write(`${name}:${await hashPassword(password)}\n`);
}

await main();
