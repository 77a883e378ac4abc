import { describe, expect, it } from 'vitest';
import { callerTokenMatches, parseJsonBody, parseTokens, requireCallerToken } from '../src/caller-auth';

describe('caller tokens', () => {
  const tokens = parseTokens('old-token\n\n  new-token  \n\n# retired: gone\n');
  it('parses one token per line', () => expect(tokens).toEqual(['old-token', 'new-token']));

  it('accepts any listed token as a Bearer credential', () => {
    expect(callerTokenMatches({ authorization: 'Bearer new-token' }, tokens)).toBe(true);
    expect(callerTokenMatches({ authorization: 'bearer old-token' }, tokens)).toBe(true);
  });

  it('refuses missing, malformed and wrong credentials', () => {
    expect(callerTokenMatches({}, tokens)).toBe(false);
    expect(callerTokenMatches({ authorization: 'new-token' }, tokens)).toBe(false);
    expect(callerTokenMatches({ authorization: 'Bearer new-toke' }, tokens)).toBe(false);
    expect(callerTokenMatches({ authorization: 'Bearer new-token' }, [])).toBe(false);
    expect(() => requireCallerToken({ authorization: 'Basic x' }, tokens)).toThrow(
      expect.objectContaining({ code: 'UNAUTHORIZED', status: 401 }),
    );
  });
});

describe('parseJsonBody', () => {
  it('accepts parsed values, text and bytes, and treats an empty body as undefined', () => {
    expect(parseJsonBody({ a: 1 })).toEqual({ a: 1 });
    expect(parseJsonBody('{"hosts":["a"]}')).toEqual({ hosts: ['a'] });
    expect(parseJsonBody(Buffer.from('[1]'))).toEqual([1]);
    expect(parseJsonBody(undefined)).toBeUndefined();
    expect(parseJsonBody('  ')).toBeUndefined();
  });
  it('refuses text that is not JSON with BAD_REQUEST', () => {
    expect(() => parseJsonBody('{nope')).toThrow(expect.objectContaining({ code: 'BAD_REQUEST' }));
  });
});
