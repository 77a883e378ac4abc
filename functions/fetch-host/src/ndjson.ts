import { StringDecoder } from 'node:string_decoder';
import { InfralogsError } from '@infralogs/core';

/**
 * Splits an NDJSON byte stream into lines, decoding UTF-8 across chunk boundaries. Blank lines are
 * skipped. A line longer than `maxLineBytes` is refused, so one runaway line cannot exhaust memory.
 * An error of the source (a broken connection) propagates to the consumer; the partial line it
 * cut is dropped, never yielded.
 */
export async function* ndjsonLines(
  source: AsyncIterable<Buffer | string>,
  maxLineBytes: number,
): AsyncGenerator<string> {
  const decoder = new StringDecoder('utf8');
  let carry = '';
  const tooLong = () =>
    new InfralogsError('UPSTREAM_FAILED', `agent sent a line longer than ${maxLineBytes} bytes`);
  for await (const chunk of source) {
    carry += typeof chunk === 'string' ? chunk : decoder.write(chunk);
    let start = 0;
    for (let nl = carry.indexOf('\n'); nl !== -1; nl = carry.indexOf('\n', start)) {
      const line = carry.slice(start, nl);
      start = nl + 1;
      if (Buffer.byteLength(line) > maxLineBytes) throw tooLong();
      if (line.trim() !== '') yield line;
    }
    carry = carry.slice(start);
    // A UTF-16 unit is 1 to 3 UTF-8 bytes: only measure when the length alone cannot tell.
    const mayBeTooLong = carry.length * 3 > maxLineBytes;
    if (mayBeTooLong && Buffer.byteLength(carry) > maxLineBytes) throw tooLong();
  }
  carry += decoder.end();
  if (carry.trim() !== '') yield carry;
}
