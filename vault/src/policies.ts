import { readFile } from 'node:fs/promises';
import type { Names } from './names';

/** The policy templates in vault/policies/, by the name of the role that uses them. */
export const POLICY_FILES = {
  writer: 'writer.hcl',
  reader: 'reader.hcl',
  migrator: 'migrator.hcl',
  agentTokens: 'agent-tokens.hcl',
  token: 'token.hcl',
} as const;

export type PolicyKind = keyof typeof POLICY_FILES;

/** Fills a template's {{placeholders}}; an unknown placeholder is an error, not an empty string. */
export function renderPolicy(template: string, names: Names): string {
  const values: Record<string, string> = {
    db_mount: names.mounts.database,
    kv_mount: names.mounts.kv,
    writer_role: names.writer,
    reader_role: names.reader,
    migrator_role: names.migrator,
    pki_mount: names.mounts.pki,
    agent_cert_role: names.agentCert,
  };
  return template.replace(/\{\{\s*([a-z_]+)\s*\}\}/g, (_, key: string) => {
    const value = values[key];
    if (value === undefined) throw new Error(`unknown placeholder {{${key}}} in a policy template`);
    return value;
  });
}

export async function loadPolicy(kind: PolicyKind, names: Names): Promise<string> {
  const template = await readFile(new URL(`../policies/${POLICY_FILES[kind]}`, import.meta.url), 'utf8');
  return renderPolicy(template, names);
}
