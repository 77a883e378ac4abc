import { describe, expect, it } from 'vitest';
import { loadPolicy, renderPolicy, resolveNames } from '../src';
import { sameSettings } from '../src/compare';

describe('policy templates', () => {
  const names = resolveNames('infralogs');
  it('render every template with the default names and no placeholder left', async () => {
    for (const kind of ['writer', 'reader', 'migrator', 'agentTokens', 'token'] as const) {
      const text = await loadPolicy(kind, names);
      expect(text, kind).not.toMatch(/\{\{|\}\}/);
    }
    expect(await loadPolicy('writer', names)).toContain('path "database/creds/infralogs-writer"');
  });
  it('refuse an unknown placeholder', () => {
    expect(() => renderPolicy('path "{{nope}}/x" {}', names)).toThrow(/unknown placeholder \{\{nope\}\}/);
  });
  it('refuse a prefix that cannot go into MySQL user names', () => {
    expect(() => resolveNames('Bad-Prefix')).toThrow(/prefix/);
  });
});

describe('sameSettings', () => {
  it('compares only the keys we set, with durations as seconds', () => {
    expect(
      sameSettings({ default_ttl: 300, max_ttl: 3600, extra: 1 }, { default_ttl: '5m', max_ttl: '1h' }),
    ).toBe(true);
    expect(sameSettings({ default_ttl: 300 }, { default_ttl: '6m' })).toBe(false);
    expect(sameSettings({ token_policies: ['a', 'b'] }, { token_policies: ['a'] })).toBe(false);
    expect(sameSettings(undefined, { a: 1 })).toBe(false);
  });
});
